"""The model page's global explanation (issue 18): what the model looks at by signal, a summary
(beeswarm) plot and dependence plots drawn as inline SVG, in the type's words and units, feature
names and log-odds only under Advanced; older versions keep their gain bars with a note; the
queries of scoring and the list leave the stored view out; and only acme's members see it."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import pytest
from django_tenants.utils import tenant_context

from machines.services import machine_type_adopt
from predictions.models import ModelEvent, ModelVersion
from predictions.selectors import model_version_list
from predictions.services.registry import champion_versions
from predictions.views.model_plots import colour_class, nice_ticks, swarm_offsets

MOTOR = "induction-motor-siemens-1la7"
POINTS = 200
TEMPERATURES = [60 + 0.45 * i for i in range(POINTS)]  # °C, 60 to 150


def _risk(t: float) -> float:
    """The classifier's made-up effect of winding temperature: flat, then climbing above 120 °C."""
    return round(0.08 * (t - 120) if t > 120 else -0.2, 4)


def _view(*, output: str, scale: float) -> dict[str, Any]:
    ranks = [round(i / (POINTS - 1), 2) for i in range(POINTS)]
    winding = [_risk(t) * scale for t in TEMPERATURES]
    vibration = [0.1 * scale * (1 if i % 2 else -1) for i in range(POINTS)]
    ambient = [0.05 * scale * (1 if i % 3 else -1) for i in range(POINTS)]
    summary = [{"signal": s, "feature": f, "shap": v, "rank": ranks} for s, f, v in (
        ("winding_temp_c", "winding_temp_c__max_24", winding),
        ("vibration_de_mm_s", "vibration_de_mm_s__mean_24", vibration),
        ("ambient_temp_c", "ambient_temp_c__last_24", ambient))]
    return {
        "format": 1, "method": "interventional TreeSHAP", "output": output, "base": -8.36, "rows": POINTS,
        "background_rows": 40, "seconds": 0.52,
        "features": [{"feature": "winding_temp_c__max_24", "importance": 0.5},
                     {"feature": "vibration_de_mm_s__mean_24", "importance": 0.3},
                     {"feature": "ambient_temp_c__last_24", "importance": 0.2}],
        "signals": [{"signal": "winding_temp_c", "feature": "winding_temp_c__max_24", "importance": 0.5,
                     "mean_abs": 0.9},
                    {"signal": "vibration_de_mm_s", "feature": "vibration_de_mm_s__mean_24", "importance": 0.3,
                     "mean_abs": 0.5},
                    {"signal": "ambient_temp_c", "feature": "ambient_temp_c__last_24", "importance": 0.2,
                     "mean_abs": 0.3}],
        "summary": summary,
        "dependence": [{"signal": "winding_temp_c", "feature": "winding_temp_c__max_24", "value": TEMPERATURES,
                        "shap": winding},
                       {"signal": "vibration_de_mm_s", "feature": "vibration_de_mm_s__mean_24",
                        "value": [2.0 + 0.01 * i for i in range(POINTS)], "shap": vibration}],
    }


CLASSIFIER_VIEW = _view(output="log-odds of failure within the horizon", scale=1.0)
RUL_VIEW = _view(output="hours of remaining life", scale=-100.0)  # hot windings shorten the life
IMPORTANCE = [{"feature": f["feature"], "label": "", "signal": f["feature"].split("__")[0],
               "importance": f["importance"]} for f in CLASSIFIER_VIEW["features"]]


def _version(machine_type: Any, kind: str, number: int, **fields: Any) -> ModelVersion:
    version = ModelVersion.objects.create(
        machine_type=machine_type, kind=kind, number=number, status="candidate", data_source="simulated",
        data_fingerprint="f" * 64, artifact_path=f"models/x/{kind}-{number}.zip", artifact_sha256="a" * 64,
        params={"horizon_h": 24, "step_hours": 0.5}, **fields)
    ModelEvent.objects.create(version=version, action="trained")
    return version


@pytest.fixture
def versions(db: None, world: Any) -> dict[str, ModelVersion]:
    with tenant_context(world.acme):
        motor = machine_type_adopt(key=MOTOR)
        return {
            "classifier": _version(motor, "failure_classifier", 2, feature_importance=IMPORTANCE,
                                   global_explanation=CLASSIFIER_VIEW),
            "rul": _version(motor, "rul_regressor", 1, global_explanation=RUL_VIEW),
            "legacy": _version(motor, "failure_classifier", 1, feature_importance=IMPORTANCE),
        }


class _PlainText(HTMLParser):
    """The text a person reads with the Advanced switch off: everything outside elements of
    class `advanced` (and outside scripts and styles)."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[bool] = []  # per open element: hidden?
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.VOID:
            return
        classes = (dict(attrs).get("class") or "").split()
        self.stack.append("advanced" in classes or tag in ("script", "style"))

    def handle_endtag(self, tag: str) -> None:
        if tag not in self.VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if not any(self.stack):
            self.parts.append(data)


def plain_text(html: str) -> str:
    parser = _PlainText()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


def section(html: str, element_id: str) -> str:
    start = html.index(f'id="{element_id}"')
    return html[start:html.index("</section>", start)]


def test_the_classifier_page_shows_signals_summary_and_dependence_in_the_types_words(client_for, versions):
    page = client_for("viewer").get(f"/models/{versions['classifier'].id}/")
    assert page.status_code == 200
    html = page.content.decode()
    text = plain_text(html)
    assert "What the model looks at" in text and "What it looks at most" not in text
    bars = plain_text(section(html, "global-signals"))
    assert bars.index("Stator winding temperature (PT100) 50%") < bars.index("Drive-end bearing vibration")
    assert "measured on 200 windows of readings from machines the model never saw" in bars
    summary = section(html, "global-summary")
    assert summary.count("<circle") == 3 * POINTS and "<svg" in summary
    assert "← lowers the risk" in plain_text(summary) and "raises the risk →" in plain_text(summary)
    assert "← lowers risk · raises risk →" in plain_text(section(html, "global-dependence"))  # its y axis
    dependence = section(html, "global-dependence")
    assert dependence.count("<figure") == 2 and dependence.count("<circle") == 2 * POINTS
    figure = plain_text(dependence)
    assert "How failure risk changes with Stator winding temperature (PT100) (°C)" in figure
    # The axis reads in degrees: the values themselves, the feature's window as time (24 steps of 0.5 h).
    assert "Stator winding temperature (PT100) highest (°C, last 12 h)" in figure
    assert all(f" {tick} " in f" {figure} " for tick in ("60", "80", "100", "120", "140"))
    # Feature names, SHAP and log-odds are for Advanced only, and there they are.
    for raw in ("winding_temp_c__max_24", "log-odds", "SHAP", "-8.36"):
        assert raw not in text, raw
        assert raw in html, raw


def test_the_dependence_dots_climb_where_the_risk_does(versions, world):
    from predictions.views.model_plots import global_context

    with tenant_context(world.acme):
        view = global_context(ModelVersion.objects.get(id=versions["classifier"].id))["global_view"]
    winding = view["dependence"][0]
    coolest, hottest = winding["dots"][0], winding["dots"][-1]
    assert coolest["x"] < hottest["x"]  # across: the temperature
    assert hottest["y"] < winding["zero"] < coolest["y"]  # up (SVG y grows downwards): raises the risk
    assert hottest["towards"] and not coolest["towards"]
    first_row = view["summary"]["rows"][0]
    assert first_row["label"] == "Stator winding temperature (PT100)"
    assert first_row["dots"][0]["colour"] == "q0" and first_row["dots"][-1]["colour"] == "q5"


def test_the_rul_page_reads_in_hours_of_remaining_life(client_for, versions):
    html = client_for("viewer").get(f"/models/{versions['rul'].id}/").content.decode()
    text = plain_text(html)
    assert "How remaining life changes with Stator winding temperature (PT100) (°C)" in text
    assert "Effect on remaining life (h)" in text and "shortens remaining life" in text
    assert " h " in plain_text(section(html, "global-summary"))  # ticks in hours, not hidden
    assert "remaining-life estimates" in text and "hours of remaining life" not in text


def test_a_version_without_a_global_view_keeps_its_gain_bars_with_a_note(client_for, versions):
    html = client_for("viewer").get(f"/models/{versions['legacy'].id}/").content.decode()
    text = plain_text(html)
    assert "What it looks at most" in text and 'id="importance"' in html
    assert "Trained before the model page showed how each signal moves the predictions" in text
    assert "shap-plot" not in html and "What the model looks at" not in text


def test_scoring_and_the_list_leave_the_global_view_out(versions, world):
    with tenant_context(world.acme):
        ModelVersion.objects.filter(id=versions["classifier"].id).update(status="champion")
        champion = champion_versions(machine_type_id=versions["classifier"].machine_type_id)["failure_classifier"]
        assert "global_explanation" in champion.get_deferred_fields()
        assert all("global_explanation" in v.get_deferred_fields() for v in model_version_list())


def test_other_tenants_outsiders_and_anonymous_never_see_it(client_for, versions, world):
    url = f"/models/{versions['classifier'].id}/"
    assert client_for("globex_owner").get(url).status_code == 404
    assert client_for("outsider").get(url).status_code == 404
    on_globex = client_for("globex_owner", tenant=world.globex).get(url)
    assert on_globex.status_code == 404 and b"shap-plot" not in on_globex.content
    anonymous = client_for(None).get(url)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")


def test_plot_helpers():
    assert nice_ticks(55.5, 154.5) == [60, 80, 100, 120, 140]
    assert nice_ticks(-0.26, 2.6) == [0, 0.5, 1, 1.5, 2, 2.5]
    assert nice_ticks(-0.3, 0.9) == [-0.2, 0, 0.2, 0.4, 0.6, 0.8]
    assert [colour_class(r) for r in (0.0, 0.5, 0.99, 1.0, None)] == ["q0", "q3", "q5", "q5", "qn"]
    offsets = swarm_offsets([10.0] * 40 + [200.0], limit=12.0)
    assert max(abs(o) for o in offsets) <= 12.0 and offsets[-1] == 0.0  # crowded dots stack, a lone one sits
    assert len(set(offsets[:40])) > 10
