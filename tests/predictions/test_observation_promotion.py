"""An observation model is promoted only when it earns it: no champion, or a label better by the
margin than the champion re-measured on the same rows and folds; otherwise the champion stays and
each label's decision says why. Real (small) training on the test rig's rows."""

from __future__ import annotations

from typing import Any

import pytest

from machines.models import MachineType
from machines.services import machine_type_import, machine_type_update
from machines.uploads import upload_create
from predictions.models import ModelVersion
from predictions.services.real_training import train_on_real_data
from tests.observation_rig import MAPPING, rig_csv, rig_document, rig_rows

pytestmark = pytest.mark.django_db


def _upload(machine_type: MachineType, content: bytes, eager: Any, mapping: dict[str, Any] = MAPPING) -> None:
    with eager():
        upload = upload_create(chunks=[content], original_name=f"cycles-{len(content)}.csv",
                               machine_type_key=machine_type.key, mapping=mapping)
    upload.refresh_from_db()
    assert upload.status == "succeeded", upload.error


def _decisions(summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {d["kind"].removeprefix("observation_classifier: "): d for d in summary["decisions"]}


def _champion(machine_type: MachineType) -> ModelVersion:
    return ModelVersion.objects.get(machine_type=machine_type, kind="observation_classifier", status="champion")


def test_the_same_rows_again_do_not_earn_a_promotion_and_each_label_says_why(in_acme, eager):
    rig = machine_type_import(document=rig_document())
    _upload(rig, rig_csv(rig_rows(90, seed=3)), eager)
    first = train_on_real_data(machine_type=rig)
    assert all(d["promoted"] and d["reason"] == "no champion yet" for d in first["decisions"])
    again = train_on_real_data(machine_type=rig)
    assert _champion(rig).id == first["version"] != again["version"]
    assert ModelVersion.objects.get(id=again["version"]).status == "candidate"
    for label, decision in _decisions(again).items():
        assert not decision["promoted"] and not decision["earned"], label
        assert "re-measured on the same 90 rows and folds" in decision["reason"]
        assert "not 10% better" in decision["reason"] and decision["reason"].endswith("the champion stays")
        champion, kept = decision["comparison"][:2]
        assert champion["model"] == "champion" and kept["model"].startswith("v2 kept")
        assert champion["macro_f1"] == kept["macro_f1"]  # the same learner on the same folds: the same score


def test_a_label_better_by_the_margin_on_the_same_folds_promotes_the_model(in_acme, eager):
    """v1 learned from temperature and mode only; the type then gained the flow curve that tells
    the valve's condition. v1's way of learning, re-measured on all 150 rows with the same folds,
    cannot tell the valve; the new model can, and is promoted."""
    blind = rig_document()
    blind["sensors"] = [s for s in blind["sensors"] if s["name"] != "flow"]
    blind.pop("derived_signals")
    rig = machine_type_import(document=blind)
    no_flow = {**MAPPING, "sensors": {"Temperature": "temp_c", "mode": "mode"}}
    _upload(rig, rig_csv(rig_rows(60, seed=4)), eager, mapping=no_flow)
    first = train_on_real_data(machine_type=rig)
    rig = machine_type_update(type_id=rig.id, document=rig_document())
    _upload(rig, rig_csv(rig_rows(90, seed=5, start=61)), eager)
    second = train_on_real_data(machine_type=rig, margin=0.2)
    assert _champion(rig).id == second["version"] and ModelVersion.objects.get(id=first["version"]).status == "archived"
    valve = _decisions(second)["valve"]
    assert valve["promoted"] and valve["earned"] and second["margin"] == 0.2
    assert "re-measured on the same 150 rows and folds" in valve["reason"] and "at least 20% better" in valve["reason"]
    champion, kept = valve["comparison"][:2]
    assert kept["macro_f1"] >= champion["macro_f1"] * 1.2
    failed = _decisions(second)["failed"]
    assert failed["promoted"] and (failed["earned"] or "which valve earned" in failed["reason"])


def test_a_champion_that_cannot_be_re_measured_is_compared_by_its_own_score_and_the_reason_says_so(in_acme, eager):
    rig = machine_type_import(document=rig_document())
    _upload(rig, rig_csv(rig_rows(90, seed=6)), eager)
    first = train_on_real_data(machine_type=rig)
    without_heat = rig_document()
    without_heat.pop("derived_signals")  # the champion's feature `heat` is gone
    rig = machine_type_update(type_id=rig.id, document=without_heat)
    second = train_on_real_data(machine_type=rig)
    assert _champion(rig).id == first["version"]
    valve = _decisions(second)["valve"]
    assert not valve["promoted"]
    assert "cannot be re-measured on the same folds: its features heat are not in the data now" in valve["reason"]
    assert "its own out-of-fold macro-F1 from training, on its 90 rows" in valve["reason"]
    stored = ModelVersion.objects.get(id=first["version"]).metrics["valve"]["macro_f1"]
    assert valve["comparison"][0]["macro_f1"] == pytest.approx(stored)
