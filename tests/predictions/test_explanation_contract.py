"""The roadmap's explanation contract through the API: what a client integrating one prediction, a
batch and the OpenAPI schema sees (docs/models.md, "The explanation contract")."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from machines.models import MachineType
from predictions.models import ModelVersion
from tests.predictions.conftest import TRAINED_TYPE, failing_run_readings

JSON = "application/json"
FACTOR_KEYS = {"feature", "value", "unit", "contribution", "shap"}


def test_one_prediction_carries_the_contract(trained_motor, client_for):
    body = client_for("engineer").post("/api/v1/predictions/", {"machine": "ABB-101"}, content_type=JSON).json()
    assert body["machine_id"] == "ABB-101"
    assert body["prediction"] == ("failure" if body["predicted_failure"] else "normal")
    assert 0 <= body["probability"] <= 1
    explanation = body["explanation"]
    factors = explanation["top_factors"]
    assert factors and all(FACTOR_KEYS <= set(f) for f in factors)
    assert sum(f["contribution"] for f in factors) + explanation["other_signals_share"] == pytest.approx(1, abs=1e-3)
    assert all(f["unit"] is not None and f["feature"] == f["signal"] for f in factors)
    assert explanation["recommendation"] and explanation["confidence"] in ("high", "medium", "low")
    assert isinstance(explanation["similar_past_cases"], int)
    rule = explanation["rule"]
    assert rule["outcome"] == body["prediction"] and rule["text"].startswith("IF ")
    temporal = explanation["temporal"]
    by_signal = {f["feature"]: f["shap"] for f in factors}
    for signal in temporal["signals"]:
        assert sum(signal["attribution"]) == pytest.approx(signal["total"], abs=1e-3)
        if signal["signal"] in by_signal:
            assert signal["total"] == pytest.approx(by_signal[signal["signal"]], abs=1e-3)
    assert explanation["rul_factors"] and {f["direction"] for f in explanation["rul_factors"]} <= {
        "shortens the remaining life", "lengthens the remaining life"}


def test_a_batch_explains_on_request(trained_motor, client_for, world):
    with tenant_context(world.acme):
        document = MachineType.objects.get(key=TRAINED_TYPE).metadata
    rows = failing_run_readings(document, "ABB-101", seed=7)[:40]
    engineer = client_for("engineer")
    plain = engineer.post("/api/v1/predictions/batch/", {"readings": rows}, content_type=JSON).json()
    assert all(item["explanation"] == {} for item in plain)
    explained = engineer.post("/api/v1/predictions/batch/", {"readings": rows, "explain": True},
                              content_type=JSON).json()
    assert len(explained) == 40
    for item in explained:
        factors = item["explanation"]["top_factors"]
        assert factors and all(FACTOR_KEYS <= set(f) for f in factors)
        assert (item["explanation"]["rule"] is not None) == (item["prediction"] == "failure")


def test_the_contract_is_in_the_openapi_schema(trained_motor, client_for):
    schema = client_for("engineer").get("/api/v1/schema/?format=json").json()
    components = schema["components"]["schemas"]
    prediction = components["Prediction"]["properties"]
    assert {"machine_id", "prediction", "probability", "explanation"} <= set(prediction)
    explanation = components["Explanation"]["properties"]
    assert {"top_factors", "recommendation", "confidence", "similar_past_cases", "rule", "temporal"} <= set(explanation)
    assert "share of the total |SHAP|" in components["Factor"]["properties"]["contribution"]["description"]


def test_a_second_tenant_and_a_viewer_cannot_get_an_explained_prediction(trained_motor, client_for, world):
    made = client_for("engineer").post("/api/v1/predictions/", {"machine": "ABB-101"}, content_type=JSON).json()
    assert client_for("globex_owner", tenant=world.globex).get(f"/api/v1/predictions/{made['id']}/").status_code == 404
    assert client_for("viewer").post("/api/v1/predictions/", {"machine": "ABB-101"},
                                     content_type=JSON).status_code == 403


def test_a_models_global_explanation_is_served_to_its_tenant_only(trained_motor, client_for, world):
    with tenant_context(world.acme):
        version = ModelVersion.objects.filter(machine_type__key=TRAINED_TYPE, kind="failure_classifier").latest("id")
    url = f"/api/v1/models/{version.id}/explanation/"
    body = client_for("viewer").get(url).json()
    assert sum(item["importance"] for item in body["signals"]) == pytest.approx(1, abs=1e-3)
    assert body["output"] and body["summary"] and body["dependence"]
    assert client_for("globex_owner", tenant=world.globex).get(url).status_code == 404
    assert client_for(None).get(url).status_code in (401, 403)
