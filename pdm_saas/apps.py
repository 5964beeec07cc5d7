from django.apps import AppConfig


class PdmSaasConfig(AppConfig):
    name = "pdm_saas"
    verbose_name = "Predictive maintenance platform"

    def ready(self) -> None:
        from pdm_saas import checks  # noqa: F401  (registers the system checks)
