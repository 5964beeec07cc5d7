"""The model pages: versions per machine type with key metrics and provenance, one version's
metrics, confusion matrix, importance and events, and admin promotion / rollback."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from machines.services import machine_type_adopt
from predictions.models import ModelEvent, ModelVersion
from predictions.views.model_display import confusion_of

MOTOR = "induction-motor-siemens-1la7"
LIST = "/models/"
# 200 held-out rows, 20 positives: 15 caught, 5 missed, 9 false alarms among 180 negatives.
CLASSIFIER_METRICS = {
    "f1": 0.6818, "precision": 0.625, "recall": 0.75, "fpr": 0.05, "roc_auc": 0.912, "pr_auc": 0.7,
    "positive_rate": 0.1, "rows": 200.0, "threshold": 0.42, "horizon_h": 24,
    "validation": {"f1": 0.7}, "sizes": {"train_rows": 800, "test_rows": 200},
}


@dataclass
class Registry:
    first: ModelVersion  # a former champion (archived)
    champion: ModelVersion
    candidate: ModelVersion
    rul: ModelVersion  # the only RUL champion ever: nothing to roll back to


def _version(machine_type, kind: str, number: int, status: str, **fields) -> ModelVersion:
    promoted = timezone.now() - timedelta(days=10 - number) if status != "candidate" else None
    version = ModelVersion.objects.create(
        machine_type=machine_type, kind=kind, number=number, status=status, data_source="simulated",
        data_fingerprint=f"{number:02d}f00dfeedbeef" + "0" * 50, artifact_path=f"models/x/{kind}-{number}.zip",
        artifact_sha256="a" * 64, promoted_at=promoted, **fields)
    ModelEvent.objects.create(version=version, action="trained", details={"dataset": None})
    return version


@pytest.fixture
def registry(db, world) -> Registry:
    # Window means of the motor's winding temperature over 1..20 steps of 0.5 h (params below).
    importance = [{"feature": f"winding_temp_c__mean_{i + 1}", "label": f"winding_temp_c mean over {i + 1} steps",
                   "signal": "winding_temp_c", "importance": (20 - i) / 210} for i in range(20)]
    with tenant_context(world.acme):
        motor = machine_type_adopt(key=MOTOR)
        clf = ModelVersion.Kind.FAILURE_CLASSIFIER
        return Registry(
            first=_version(motor, clf, 1, "archived", metrics={"f1": 0.5}),
            champion=_version(motor, clf, 2, "champion", metrics=CLASSIFIER_METRICS,
                              baseline={"f1": 0.18, "validation": {"f1": 0.1}}, feature_importance=importance,
                              params={"horizon_h": 24, "seed": 3, "step_hours": 0.5, "xgb": {"max_depth": 6}}),
            candidate=_version(motor, clf, 3, "candidate", metrics={**CLASSIFIER_METRICS, "f1": 0.8123}),
            rul=_version(motor, ModelVersion.Kind.RUL_REGRESSOR, 1, "champion",
                         metrics={"rmse": 31.5, "mae": 22.25, "r2": 0.61, "coverage": 0.9}),
        )


def _statuses(world, registry: Registry) -> dict[str, str]:
    with tenant_context(world.acme):
        return {name: ModelVersion.objects.get(id=getattr(registry, name).id).status
                for name in ("first", "champion", "candidate", "rul")}


ORIGINAL = {"first": "archived", "champion": "champion", "candidate": "candidate", "rul": "champion"}


# --- the list ---------------------------------------------------------------------------------


def test_list_shows_versions_per_type_with_key_metrics_and_provenance(client_for, registry):
    page = client_for("viewer").get(LIST)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Siemens" in html or "1LA7" in html
    for version in (registry.first, registry.champion, registry.candidate, registry.rul):
        assert f'href="/models/{version.id}/"' in html
    assert "F1 <b class=\"num\">0.812</b>" in html and "ROC-AUC <b class=\"num\">0.912</b>" in html
    assert "RMSE h <b class=\"num\">31.5</b>" in html and "Coverage" in html
    assert 'badge champion' in html and 'badge candidate' in html and 'badge archived' in html
    assert "Simulated" in html and "02f00dfeedbe" in html


def test_only_admins_see_promote_and_roll_back(client_for, registry):
    for actor in ("viewer", "engineer"):
        html = client_for(actor).get(LIST).content.decode()
        assert ">Promote<" not in html and ">Roll back<" not in html
    html = client_for("admin").get(LIST).content.decode()
    assert ">Promote<" in html
    assert html.count(">Roll back<") == 1  # the classifier has a former champion, the RUL model none


def test_list_filters(client_for, registry):
    html = client_for("viewer").get(LIST, {"status": "candidate"}).content.decode()
    assert f'href="/models/{registry.candidate.id}/"' in html and f'href="/models/{registry.rul.id}/"' not in html
    other = client_for("viewer").get(LIST, {"machine_type": registry.rul.machine_type_id + 1000}).content.decode()
    assert f'href="/models/{registry.rul.id}/"' in other  # an unknown type shows everything


# --- one version ------------------------------------------------------------------------------


def test_detail_shows_metrics_matrix_importance_params_and_events(client_for, registry):
    page = client_for("viewer").get(f"/models/{registry.champion.id}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "validation.f1" in html and "0.180" in html  # nested metrics, beside the baseline
    assert html.index("<td>F1</td>") < html.index("<td>ROC-AUC</td>") < html.index("<td>PR-AUC</td>")
    matrix = html[html.index('class="matrix"'):html.index("</table>", html.index('class="matrix"'))]
    for count in ('"hit">15<', '"miss">5<', '"miss">9<', '"hit">171<'):
        assert count in matrix
    assert "200 held-out rows" in html
    # The features in the type's words, the window as time (2 steps of 0.5 h); the raw names for Advanced.
    assert html.count('class="fill"') == 15 and "Stator winding temperature (PT100) average (°C, last 1 h)" in html
    assert "<code>winding_temp_c__mean_2</code>" in html and "winding_temp_c__mean_16" not in html
    assert "xgb.max_depth" in html and "trained" in html
    assert f'href="/models/{registry.first.id}/"' in html  # other versions of the kind


def test_confusion_matrix_prefers_stored_counts_and_needs_the_rates():
    stored = confusion_of({"tp": 3, "fp": 1, "tn": 10, "fn": 2, "recall": 0.1})
    assert stored is not None and (stored.tp, stored.fp, stored.tn, stored.fn, stored.derived) == (3, 1, 10, 2, False)
    derived = confusion_of(CLASSIFIER_METRICS)
    assert derived is not None and (derived.tp, derived.fn, derived.fp, derived.tn) == (15, 5, 9, 171)
    assert confusion_of({"f1": 0.5}) is None


def test_rul_detail_has_no_matrix(client_for, registry):
    html = client_for("viewer").get(f"/models/{registry.rul.id}/").content.decode()
    assert 'class="matrix"' not in html and "<td>RMSE h</td>" in html and "RUL regressor v1" in html


# --- promote and roll back --------------------------------------------------------------------


def test_admin_promotes_a_candidate(client_for, world, registry):
    response = client_for("admin").post(f"/models/{registry.candidate.id}/promote/", {"note": "better F1"},
                                        follow=True)
    assert response.redirect_chain[-1][0] == f"/models/{registry.candidate.id}/"
    assert "v3 is now the champion" in response.content.decode()
    assert _statuses(world, registry) == {**ORIGINAL, "candidate": "champion", "champion": "archived"}
    with tenant_context(world.acme):
        event = ModelEvent.objects.get(version_id=registry.candidate.id, action="promoted")
        assert event.actor_id == world.admin.id and event.note == "better F1"


def test_admin_rolls_back_to_the_previous_champion(client_for, world, registry):
    response = client_for("admin").post("/models/rollback/", {
        "machine_type": registry.champion.machine_type_id, "kind": "failure_classifier"})
    assert response.status_code == 302 and response["Location"] == f"/models/{registry.first.id}/"
    assert _statuses(world, registry) == {**ORIGINAL, "first": "champion", "champion": "archived"}


def test_a_rollback_with_nothing_to_return_to_is_a_message(client_for, world, registry):
    response = client_for("admin").post("/models/rollback/", {
        "machine_type": registry.rul.machine_type_id, "kind": "rul_regressor"}, follow=True)
    assert "nothing to roll back to" in response.content.decode()
    assert _statuses(world, registry) == ORIGINAL
    bad = client_for("admin").post("/models/rollback/", {"kind": "nonsense"}, follow=True)
    assert "Choose the machine type and kind" in bad.content.decode()


@pytest.mark.parametrize("actor", ["viewer", "engineer"])
def test_non_admins_cannot_promote_or_roll_back(client_for, world, registry, actor):
    client = client_for(actor)
    assert client.post(f"/models/{registry.candidate.id}/promote/").status_code == 403
    assert client.post("/models/rollback/", {"machine_type": registry.champion.machine_type_id,
                                             "kind": "failure_classifier"}).status_code == 403
    assert _statuses(world, registry) == ORIGINAL


def test_another_tenants_user_gets_404(client_for, world, registry):
    client = client_for("globex_owner")
    assert client.get(LIST).status_code == 404
    assert client.get(f"/models/{registry.champion.id}/").status_code == 404
    assert client.post(f"/models/{registry.candidate.id}/promote/").status_code == 404
    assert client.post("/models/rollback/", {"machine_type": registry.champion.machine_type_id,
                                             "kind": "failure_classifier"}).status_code == 404
    assert _statuses(world, registry) == ORIGINAL


def test_acme_model_ids_on_globex_host_are_404(client_for, world, registry):
    globex = client_for("globex_owner", tenant=world.globex)
    assert globex.get(LIST).status_code == 200
    assert globex.get(f"/models/{registry.champion.id}/").status_code == 404
    assert globex.post(f"/models/{registry.candidate.id}/promote/").status_code == 404
    assert _statuses(world, registry) == ORIGINAL


def test_anonymous_goes_to_login(client_for, registry):
    for response in (client_for(None).get(LIST), client_for(None).get(f"/models/{registry.champion.id}/")):
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_an_observation_classifier_shows_each_label_beside_the_baseline(client_for, world, db):
    from machines.services import machine_type_import
    from tests.observation_rig import rig_document

    valve = {"accuracy": 0.98, "macro_f1": 0.975, "rows": 90, "learner": "xgboost_learner"}
    with tenant_context(world.acme):
        rig = machine_type_import(document=rig_document())
        version = _version(rig, ModelVersion.Kind.OBSERVATION_CLASSIFIER, 1, "champion",
                           metrics={"valve": valve, "validation": {"split": "stratified k-fold", "folds": 5}},
                           baseline={"valve": {"accuracy": 0.95, "macro_f1": 0.941}})
    listed = client_for("viewer").get(LIST).content.decode()
    assert "Observation classifier" in listed and "valve macro-F1" in listed and "0.975" in listed
    html = client_for("viewer").get(f"/models/{version.id}/").content.decode()
    assert "valve.macro_f1" in html and "0.941" in html and 'class="matrix"' not in html
