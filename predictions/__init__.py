from pdm_saas import openmp  # noqa: F401  (XGBoost's threads must not spin; see the module)
