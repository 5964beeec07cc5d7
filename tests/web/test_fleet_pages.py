"""The fleet dashboard, the machine page and the onboarding wizard, through Django's test client:
what each role sees and may do, and that another tenant's people get a 404."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from django.utils.html import escape
from django_tenants.utils import tenant_context

from jobs.models import Job
from machines.live import readings_push
from machines.models import Machine, MachineType
from machines.services import machine_create, machine_type_adopt
from maintenance.models import Alert
from pdm_saas.celery import app as celery_app
from predictions.models import Dataset, ModelVersion, Prediction
from predictions.services.scoring import machine_predict
from predictions.services.training import ONBOARD_KIND
from predictions.web_format import heatmap
from predictions.wording import share_text

pytestmark = pytest.mark.django_db
TYPE = "ai4i-milling-machine"


@pytest.fixture(autouse=True)
def acme_schema(world: Any) -> Iterator[None]:
    """Test bodies read and write acme's schema (requests to acme's host use it too)."""
    with tenant_context(world.acme):
        yield


@pytest.fixture
def mill(acme_schema: None) -> Machine:
    machine_type = machine_type_adopt(key=TYPE)
    return machine_create(machine_type_id=machine_type.id, name="Mill-7", site="Plant B", line="L2")


def _predict(machine: Machine, *, probability: float, health: float | None, minutes_ago: int = 0,
             **extra: Any) -> Prediction:
    prediction = Prediction.objects.create(
        machine=machine, source="api", window_end=timezone.now() - timedelta(minutes=minutes_ago), horizon_h=12,
        probability=probability, predicted_failure=probability >= 0.5,
        failure_mode="tool_wear_failure" if probability >= 0.5 else "", rul_h=40.0, rul_lower_h=30.0,
        rul_upper_h=55.0, anomaly_score=0.4, health_score=health, confidence=0.7, **extra)
    return prediction


def test_the_dashboard_lists_machines_riskiest_first(client_for: Any, mill: Machine, world: Any) -> None:
    calm = machine_create(machine_type_id=mill.machine_type_id, name="Mill-8", site="Plant A")
    _predict(calm, probability=0.05, health=95)
    _predict(mill, probability=0.2, health=80, minutes_ago=5)
    _predict(mill, probability=0.9, health=10)  # the latest one counts
    Alert.objects.create(machine=mill, failure_mode="tool_wear_failure", severity="critical", probability=0.9,
                         title="Tool")
    page = client_for("viewer").get("/")
    assert page.status_code == 200
    body = page.content.decode()
    assert body.index("Mill-7") < body.index("Mill-8")
    assert "90%" in body and 'class="badge open"' in body
    # When it was scored, as a <time> the page keeps re-wording (static/js/relative_time.js).
    assert 'data-field="scored"><time datetime="' in body and "data-relative" in body
    # The failure mode by its label, never its key (the live update finds labels in #mode-labels).
    assert "Tool wear failure (TWF)" in body and "tool_wear_failure<" not in body
    assert json.loads(body.split('id="mode-labels" type="application/json">')[1].split("</script>")[0])[
        str(mill.machine_type_id)]["tool_wear_failure"] == "Tool wear failure (TWF)"


def test_the_dashboard_filters_by_site_line_and_type(client_for: Any, mill: Machine) -> None:
    machine_create(machine_type_id=mill.machine_type_id, name="Mill-9", site="Plant A")
    client = client_for("viewer")
    rows = client.get("/fleet/rows/", {"site": "Plant B"}).content.decode()
    assert "Mill-7" in rows and "Mill-9" not in rows
    rows = client.get("/fleet/rows/", {"line": "L2", "type": str(mill.machine_type_id)}).content.decode()
    assert "Mill-7" in rows and "Mill-9" not in rows
    assert "Mill-9" in client.get("/", {"site": "Plant A"}).content.decode()


def test_the_machine_page_shows_the_explanation_and_chart_data(client_for: Any, mill: Machine) -> None:
    readings_push(items=[{"machine": "Mill-7", "ts": f"2026-11-01T00:{m:02d}:00+00:00",
                          "values": {"torque_nm": 40.0 + m}} for m in range(5)])
    explanation = {"top_factors": [{"signal": "torque_nm", "contribution": 1.2, "value": 44.0, "zone": "warning",
                                    "feature_label": "torque, last value"}],
                   "recommendation": "Change the tool.",
                   "rule": {"text": "IF torque > 43 THEN failure", "fidelity": 0.9},
                   "confidence": {"value": 0.7, "level": "high"},
                   "forecast": [{"signal": "torque_nm", "hours_to_warning": 5.0, "hours_to_critical": None,
                                 "projection": [{"h": 1.0, "value": 45.0}]}]}
    _predict(mill, probability=0.9, health=10, explanation=explanation)
    client = client_for("viewer")
    page = client.get(f"/machines/{mill.id}/").content.decode()
    assert "Change the tool." in page and "IF torque &gt; 43 THEN failure" in page and "5.0 h" in page
    assert "Score now" not in page  # a viewer cannot predict
    data = client.get(f"/machines/{mill.id}/chart-data/").json()
    assert data["readings"]["signals"]["torque_nm"] == [40.0, 41.0, 42.0, 43.0, 44.0]
    assert data["predictions"]["probability"] == [0.9]
    assert data["forecast"][0]["signal"] == "torque_nm"


def _factor(signal: str, label: str, value: float, unit: str, share: float, shap: float, direction: str,
            feature: str) -> dict[str, Any]:
    """A factor as explanations have stored it since issue 18 (engine.explanation.factor_lists)."""
    return {"feature": signal, "signal": signal, "label": label, "value": value, "unit": unit, "zone": "normal",
            "contribution": share, "shap": shap, "direction": direction, "window_feature": feature,
            "feature_label": feature, "feature_value": value}


# A normal prediction explained in the issue-18 contract: shares, a local rule in sensor units, RUL
# and anomaly factors, counted similar cases (one real), and the attributions of 3 signals x 4 steps.
NEW_EXPLANATION = {
    "top_factors": [_factor("torque_nm", "Torque", 44.0, "N·m", 0.45, 0.83, "raises risk", "torque_nm__max_24"),
                    _factor("tool_wear_min", "Tool wear", 120.0, "min", 0.3, -0.55, "lowers risk",
                            "tool_wear_min__last_6")],
    "other_signals_share": 0.25, "shap_base": -3.1, "shap_output": "log-odds of failure within the horizon",
    "recommendation": "No failure expected within 12 h. Watch Torque (44 N·m): it weighs most on the risk now.",
    "failure_mode_label": "", "confidence": "medium", "confidence_value": 0.41,
    "similar_past_cases": 12,
    "similar_cases": [{"machine": "Mill-2", "failure_mode": "tool_wear_failure", "hours_before_failure": 6.0,
                       "similarity": 0.8, "source": "real", "failed_at": "2026-10-03T08:00:00+00:00"},
                      {"machine": "sim-0004", "failure_mode": "power_failure", "hours_before_failure": 0.0,
                       "similarity": 0.6, "source": "simulated"}],
    "rule": {"text": "IF Torque > 43.5 N·m AND Tool wear <= 130 min THEN 8% chance of failure within 12 h",
             "conditions": [{"signal": "torque_nm", "label": "Torque", "op": ">", "value": 43.5, "unit": "N·m",
                             "text": "Torque > 43.5 N·m"}],
             "outcome": "normal", "probability": 0.08, "fidelity": 0.92, "coverage": 0.31,
             "method": "local surrogate (anchors)"},
    "rul_factors": [_factor("tool_wear_min", "Tool wear", 120.0, "min", 0.7, -12.0, "shortens the remaining life",
                            "tool_wear_min__last_6"),
                    _factor("torque_nm", "Torque", 44.0, "N·m", 0.3, 5.0, "lengthens the remaining life",
                            "torque_nm__mean_24")],
    "anomaly_factors": [_factor("air_temp_k", "Air temperature", 303.0, "K", 0.6, 0.2, "makes it look unusual",
                                "air_temp_k__delta_24")],
    "mode_factors": [],
    "temporal": {"steps_ago": [3, 2, 1, 0], "hours_ago": [1.5, 1.0, 0.5, 0.0],
                 "signals": [{"signal": "torque_nm", "label": "Torque", "unit": "N·m",
                              "attribution": [0.0, 0.1, 0.2, 0.4], "total": 0.7},
                             {"signal": "tool_wear_min", "label": "Tool wear", "unit": "min",
                              "attribution": [-0.05, -0.05, -0.1, -0.1], "total": -0.3},
                             {"signal": "air_temp_k", "label": "Air temperature", "unit": "K",
                              "attribution": [0.0, 0.0, 0.0, 0.0], "total": 0.0}],
                 "summary": "The last 1 h carry 72% of what drove this prediction.",
                 "output": "log-odds of failure within the horizon"},
    "time_unit": "h",
}


def test_the_machine_page_explains_a_prediction_of_the_new_shape(client_for: Any, mill: Machine) -> None:
    """Shares, the local rule for everyone with how often it holds, what to watch (a normal
    prediction), remaining-life and unusual factors, counted similar failures with the real one
    marked, and the heatmap: one cell per signal and step, each titled in words."""
    _predict(mill, probability=0.1, health=90, explanation=NEW_EXPLANATION)
    page = client_for("viewer").get(f"/machines/{mill.id}/").content.decode()
    factors = page[page.index('id="factors"'):page.index('id="other-signals"')]
    assert "Torque" in factors and "44 N·m (normal range)" in factors and ">45%<" in factors
    assert "raises risk" in factors and "30%" in factors and "lowers risk" in factors
    assert 'data-width="45.0"' in factors  # the bar's length is the share itself
    assert "All other signals together: 25%." in page
    assert "What to watch" in page and "What to check" not in page and "Watch Torque (44 N·m)" in page
    assert '<span class="badge" id="confidence">medium</span>' in page
    assert "IF Torque &gt; 43.5 N·m AND Tool wear &lt;= 130 min THEN 8% chance of failure within 12 h" in page
    rule = page[page.index('id="rule"') - 40:page.index('id="rule"')]
    assert "advanced" not in rule  # in sensor units: shown to everyone
    assert "It holds for 92% of similar situations." in page
    assert "What shortens its remaining life" in page and 'id="rul-factors"' in page
    shortening = page[page.index('id="rul-factors"'):page.index("What looks unusual")]
    assert "Tool wear" in shortening and "70%" in shortening and "Torque" not in shortening  # it lengthens it
    assert "Air temperature" in page[page.index('id="unusual-factors"'):]
    assert "12 similar past failures" in page
    cases = page[page.index('id="similar-cases"'):]
    assert "Mill-2: Tool wear failure (TWF), 6.0 h before failure" in cases and "on your machines" in cases
    assert "failed 2026-10-03" in cases and "sim-0004: Power failure (PWF), at the failure" in cases
    assert cases.count("on your machines") == 1
    heat = page[page.index('id="heatmap"'):page.index("</table>", page.index('id="heatmap"'))]
    assert "The last 1 h carry 72% of what drove this prediction." in page
    assert heat.count('<td class="heat ') == 3 * 4
    assert "Hours ago →" in heat and [c.split("<")[0] for c in heat.split('class="heat-step"')[1:]] == [
        ' title="1.5 h ago">1.5', ' title="1 h ago">1', ' title="0.5 h ago">0.5', ' title="at the latest reading">0']
    # Titles in words, shares of all the cells (|0.4| of 1.0); intensity against the largest cell.
    assert 'class="heat heat-up-5" title="Torque, at the latest reading: raises the risk, 40% of what drove ' \
           'this prediction"' in heat
    assert 'class="heat heat-down-1" title="Tool wear, 1.5 h ago: lowers the risk, 5% of' in heat
    assert 'class="heat heat-down-2" title="Tool wear, 0.5 h ago: lowers the risk, 10% of' in heat
    assert 'title="Air temperature, 1 h ago: no weight"' in heat


def test_the_heatmap_counts_cycles_for_cycle_indexed_data_and_days_for_long_windows() -> None:
    signals = [{"signal": "t30", "label": "HPC outlet temperature", "unit": "°R", "attribution": [0.1, -0.3, None]}]
    cycles = heatmap({"hours_ago": [2.0, 1.0, 0.0], "signals": signals, "summary": ""}, "cycles")
    assert cycles is not None and cycles["axis_label"] == "cycles ago"
    assert [c["when"] for c in cycles["columns"]] == ["2 cycles ago", "1 cycle ago", "at the latest reading"]
    assert [c["css"] for c in cycles["rows"][0]["cells"]] == ["heat-up-2", "heat-down-5", "heat-0"]  # None: no weight
    days = heatmap({"hours_ago": [96.0, 48.0, 24.0], "signals": signals}, "h")
    assert days is not None and [c["text"] for c in days["columns"]] == ["4", "2", "1"] and days["axis"] == "days"
    assert heatmap(None, "h") is None and heatmap({"hours_ago": [0.0], "signals": []}, "h") is None


def test_the_machine_page_still_reads_an_old_explanation(client_for: Any, mill: Machine) -> None:
    """Predictions stored before issue 18 keep their shape (signed log-odds as `contribution`,
    confidence as {value, level}, a global rule in feature words, no heatmap): the page words them."""
    explanation = {"top_factors": [{"signal": "torque_nm", "contribution": -1.2, "value": 44.0, "zone": "warning",
                                    "feature": "torque_nm__std_12", "feature_label": "torque_nm spread over 12 steps"},
                                   {"signal": "tool_wear_min", "contribution": 0.6, "value": 150.0}],
                   "confidence": {"value": 0.7, "level": "high"},
                   "rule": {"text": "IF torque_nm spread over 24 steps > 3.1 THEN failure", "fidelity": 0.9},
                   "similar_cases": [{"machine": "sim-1", "failure_mode": "tool_wear_failure",
                                      "hours_before_failure": 3.0, "similarity": 0.5}],
                   "unusual_signals": [{"signal": "torque_nm", "feature": "torque_nm__std_12", "z": 4.0}]}
    _predict(mill, probability=0.9, health=10, explanation=explanation)
    page = client_for("viewer").get(f"/machines/{mill.id}/").content.decode()
    factors = page[page.index('id="factors"'):page.index("</ul>", page.index('id="factors"'))]
    assert "Torque" in factors and "lowers risk" in factors and "raises risk" in factors
    assert 'data-width="100.0"' in factors and 'data-width="50.0"' in factors  # against the strongest
    assert '<span class="badge" id="confidence">high</span>' in page
    assert "Similar past failures" in page and "sim-1: Tool wear failure (TWF), 3.0 h before failure" in page
    assert "Torque: well above normal" in page
    rule = page[page.index('<code id="rule">') - 80:page.index('<code id="rule">')]
    assert 'class="advanced"' in rule  # the old global rule stays under Advanced
    assert "When it happened" not in page and 'id="heatmap"' not in page and "It holds for" not in page


def test_the_machine_page_shows_the_engine_s_own_explanation_and_heatmap(client_for: Any, world: Any,
                                                                        trained_motor: Any) -> None:
    """A prediction the trained models just made (ABB-101, at one-day steps): the heatmap has a
    cell per signal and step the engine attributed, in days, and each factor its share."""
    machine = Machine.objects.get(id=trained_motor.machine_id)
    explanation = machine_predict(machine=machine).explanation
    temporal = explanation["temporal"]
    page = client_for("viewer").get(f"/machines/{machine.id}/").content.decode()
    heat = page[page.index('id="heatmap"'):page.index("</table>", page.index('id="heatmap"'))]
    assert heat.count('<td class="heat ') == len(temporal["signals"]) * len(temporal["hours_ago"]) > 0
    assert heat.count("<tr data-signal=") == len(temporal["signals"])
    assert "Days ago →" in heat and 'title="1 day ago">1<' in heat
    first = temporal["signals"][0]
    assert f'<th scope="row">{first["label"]} <span class="muted">({first["unit"]})</span></th>' in heat
    assert f'title="{first["label"]}, at the latest reading: ' in heat
    if temporal["summary"]:
        assert temporal["summary"] in page
    top = explanation["top_factors"][0]
    factors = page[page.index('id="factors"'):page.index("</ul>", page.index('id="factors"'))]
    assert top["label"] in factors and f">{share_text(top['contribution'])}<" in factors
    assert top["direction"] in factors and escape(explanation["rule"]["text"]) in page


def test_scoring_now_needs_the_predict_role_and_says_why_it_cannot(client_for: Any, mill: Machine) -> None:
    assert client_for("viewer").post(f"/machines/{mill.id}/score/").status_code == 403
    answer = client_for("engineer").post(f"/machines/{mill.id}/score/", follow=True)
    assert "no trained models yet" in answer.content.decode()  # a clear message, not an error page
    assert not Prediction.objects.filter(machine=mill).exists()


@pytest.mark.parametrize("path", ["/", "/fleet/rows/", "/onboard/", "/machines/{id}/", "/machines/{id}/chart-data/"])
def test_another_tenant_and_anonymous_are_refused(client_for: Any, world: Any, mill: Machine, path: str) -> None:
    url = path.format(id=mill.id)
    assert client_for("globex_owner").get(url).status_code == 404
    assert client_for("outsider").get(url).status_code == 404
    anonymous = client_for(None).get(url)
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    if "{id}" in path:  # acme's machine id on globex's own host
        assert client_for("globex_owner", tenant=world.globex).get(url).status_code == 404


def test_the_wizard_adopts_a_type_adds_machines_and_starts_training(client_for: Any) -> None:
    client = client_for("engineer")
    assert "Use this type" in client.get("/onboard/").content.decode()
    adopted = client.post("/onboard/", {"action": "adopt", "key": "centrifugal-pump"})
    machine_type = MachineType.objects.get(key="centrifugal-pump")
    assert adopted["Location"] == f"/onboard/?type={machine_type.id}"
    client.post("/onboard/", {"action": "add_machines", "type": machine_type.id, "names": "P-1, P-2\nP-3",
                              "site": "North"})
    assert list(Machine.objects.filter(site="North").values_list("name", flat=True)) == ["P-1", "P-2", "P-3"]
    started = client.post("/onboard/", {"action": "train", "type": machine_type.id, "machines": "30"})
    job = Job.objects.filter(kind=ONBOARD_KIND).latest("id")
    assert started["Location"] == f"/onboard/{job.id}/" and job.params["machines"] == 30
    progress = client.get(f"/onboard/{job.id}/").content.decode()
    assert f'data-job="{job.id}"' in progress and 'role="progressbar"' in progress


def test_the_wizard_refuses_bad_input_without_creating_anything(client_for: Any, mill: Machine) -> None:
    client = client_for("engineer")
    type_id = mill.machine_type_id
    answer = client.post("/onboard/", {"action": "add_machines", "type": type_id, "names": "Mill-10, Mill-7"},
                         follow=True)
    assert "already exists" in answer.content.decode()
    assert not Machine.objects.filter(name="Mill-10").exists()  # all or nothing
    jobs = Job.objects.filter(kind=ONBOARD_KIND).count()
    answer = client.post("/onboard/", {"action": "train", "type": type_id, "machines": "3"}, follow=True)
    assert "machines must be between 10 and 400" in answer.content.decode()
    assert Job.objects.filter(kind=ONBOARD_KIND).count() == jobs


def test_a_viewer_cannot_use_the_wizard(client_for: Any, mill: Machine) -> None:
    client = client_for("viewer")
    jobs = Job.objects.filter(kind=ONBOARD_KIND).count()
    assert "Use this type" not in client.get("/onboard/").content.decode()
    assert client.post("/onboard/", {"action": "adopt", "key": "centrifugal-pump"}).status_code == 403
    assert client.post("/onboard/", {"action": "train", "type": mill.machine_type_id}).status_code == 403
    assert not MachineType.objects.filter(key="centrifugal-pump").exists()
    assert Job.objects.filter(kind=ONBOARD_KIND).count() == jobs


def test_the_sample_file_is_made_for_the_tenants_machines_and_uploads_cleanly(
        client_for: Any, mill: Machine, world: Any, django_capture_on_commit_callbacks: Any) -> None:
    machine_create(machine_type_id=mill.machine_type_id, name="Mill-8")
    answer = client_for("viewer").get(f"/onboard/sample/{mill.machine_type_id}.csv")
    assert answer.status_code == 200 and answer["Content-Type"] == "text/csv"
    rows = list(csv.reader(io.StringIO(answer.content.decode())))
    sensors = [s["name"] for s in mill.machine_type.metadata["sensors"]]
    assert rows[0] == ["timestamp", "machine", *sensors]
    assert {row[1] for row in rows[1:]} == {"Mill-7", "Mill-8"}
    last = max(datetime.fromisoformat(row[0]) for row in rows[1:])
    assert abs((timezone.now() - last).total_seconds()) < 3600  # a week ending now, not in 2024
    celery_app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            upload = client_for("engineer").post("/api/v1/uploads/", {
                "file": SimpleUploadedFile("sample.csv", answer.content), "machine_type": mill.machine_type.key,
                "mapping": json.dumps({"time_column": "timestamp", "machine_column": "machine",
                                       "sensors": {s: s for s in sensors}})})
    finally:
        celery_app.conf.task_always_eager = False
    stored = client_for("engineer").get(f"/api/v1/uploads/{upload.json()['id']}/").json()
    assert stored["status"] == "succeeded" and stored["rows_stored"] == len(rows) - 1 and stored["rows_rejected"] == 0


def test_the_sample_file_needs_machines_and_stays_in_its_tenant(client_for: Any, world: Any) -> None:
    machine_type = machine_type_adopt(key="centrifugal-pump")
    answer = client_for("viewer").get(f"/onboard/sample/{machine_type.id}.csv", follow=True)
    assert "Add machines of this type first" in answer.content.decode()
    assert client_for("globex_owner").get(f"/onboard/sample/{machine_type.id}.csv").status_code == 404
    assert client_for("owner", tenant=world.globex).get(f"/onboard/sample/{machine_type.id}.csv").status_code == 404


def test_the_pages_word_the_stored_verdict(client_for: Any, mill: Machine) -> None:
    """The fleet row and the machine page read the verdict stored with the prediction
    (engine.decision): state, risk against the alert level, RUL beyond its cap, learning."""
    learning = machine_create(machine_type_id=mill.machine_type_id, name="Mill-10")
    _predict(learning, probability=0.01, health=None, state="learning", learning=0.62, risk=0.01, threshold=0.053)
    _predict(mill, probability=0.12, health=40, state="at_risk", risk=0.12, threshold=0.053, rul_beyond_h=720.0)
    client = client_for("viewer")
    fleet = client.get("/").content.decode()
    assert "learning its normal (62%)" in fleet
    assert "high (12%, alert level 5%)" in fleet and "beyond 30 days, no sign of wear" in fleet
    assert "confirming" in fleet  # at risk in this window, no alarm yet: no alert either
    page = client.get(f"/machines/{mill.id}/").content.decode()
    assert "high (12%, alert level 5%)" in page and "beyond 30 days, no sign of wear" in page
    assert "an alert opens when it persists" in page
    learning_page = client.get(f"/machines/{learning.id}/").content.decode()
    assert "learning its normal (62%)" in learning_page and 'data-field="health">—' in learning_page


def test_the_wizard_s_result_says_what_each_model_does_before_its_metrics(client_for: Any, mill: Machine) -> None:
    """The models by their names and purpose in words; their metric keys (`roc_auc`) and Django's
    "Rul Regressor" nowhere outside the Advanced switch's elements; signals by their labels."""
    common = {"machine_type": mill.machine_type, "number": 1, "status": "champion", "data_source": "simulated",
              "data_fingerprint": "0" * 64, "artifact_sha256": "a" * 64}
    models = [ModelVersion.objects.create(kind="rul_regressor", artifact_path="m/rul.zip", **common,
                                          metrics={"rmse": 30.25, "mae": 21.0}),
              ModelVersion.objects.create(kind="failure_classifier", artifact_path="m/clf.zip", **common,
                                          metrics={"roc_auc": 0.9321, "rows": 100.0, "positive_rate": 0.2,
                                                   "recall": 0.5, "fpr": 0.1})]
    dataset = Dataset.objects.create(machine_type=mill.machine_type, source="synthesized", fingerprint="1" * 64,
                                     rows=10, params={"step_hours": 0.5},
                                     quality_report={"overall": 0.87, "columns": {"torque_nm": 0.612,
                                                                                  "torque_nm__std_12": 0.7}})
    job = Job.objects.create(kind=ONBOARD_KIND, status=Job.Status.SUCCEEDED, progress=100,
                             params={"machine_type_id": mill.machine_type_id},
                             result={"predictions": 1, "models": [{"id": m.id} for m in models],
                                     "synthetic": {"dataset": dataset.id}})
    page = client_for("viewer").get(f"/onboard/{job.id}/").content.decode()
    assert "Rul Regressor" not in page and "RUL regressor" in page
    assert "Estimates how long a machine has left before it fails." in page
    assert "remaining life was off by 21.0 h on average" in page
    assert "warned in 10 of 20 readings before a failure, with 10 false alarms per 100 healthy readings" in page
    metrics = page[page.index('<td class="advanced">'):]
    assert "roc_auc 0.93" in metrics and "roc_auc" not in page[:page.index('<td class="advanced">')]
    assert "Torque" in page and "61%" in page and "<code>torque_nm</code>" in page
    assert "Torque variability (N·m, last 6 h)" in page  # a window column: 12 steps of 0.5 h
