"""Browser pages of the predictions app: fleet, machine detail, onboarding wizard and models. Each
page module lives in `predictions/views/`. The `predictions` namespace also holds maintenance's
pages (maintenance/urls.py), as it did before they moved: pdm_saas/urls_tenant.py joins them."""

from django.urls import path

from predictions.views import fleet, models, onboarding

urlpatterns = [
    path("machines/<int:pk>/", fleet.machine_detail, name="machine-detail"),
    path("machines/<int:pk>/chart-data/", fleet.machine_chart_data, name="machine-chart-data"),
    path("machines/<int:pk>/score/", fleet.machine_score, name="machine-score"),
    path("machines/<int:pk>/baseline/reset/", fleet.machine_relearn_normal, name="machine-baseline-reset"),
    path("fleet/rows/", fleet.fleet_rows, name="fleet-rows"),
    path("onboard/", onboarding.onboard_start, name="onboard"),
    path("onboard/<int:job_id>/", onboarding.onboard_progress, name="onboard-progress"),
    path("onboard/sample/<int:type_id>.csv", onboarding.onboard_sample, name="onboard-sample"),
    path("models/", models.model_list, name="models"),
    path("models/<int:pk>/", models.model_detail, name="model-detail"),
    path("models/<int:pk>/promote/", models.model_promote_page, name="model-promote"),
    path("models/rollback/", models.model_rollback_page, name="model-rollback"),
    path("models/<int:pk>/drift-check/", models.model_drift_check_page, name="model-drift-check"),
    path("models/<int:pk>/retrain/", models.model_retrain_page, name="model-retrain"),
    path("models/<int:pk>/decide/", models.model_decide_page, name="model-decide"),
]
