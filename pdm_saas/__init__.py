from pdm_saas import openmp  # noqa: F401  (before any OpenMP runtime loads; see the module)
from pdm_saas.celery import app as celery_app

__all__ = ("celery_app",)
