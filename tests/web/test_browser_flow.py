"""The product as a new customer meets it, in a real headless Chromium against a real ASGI server
and a real Celery worker: signup -> onboard a built-in type with the wizard (its progress bar
advancing live) -> upload a CSV -> the fleet dashboard shows the machines -> a scoring run pushes
a new health value that appears without a reload -> an alert becomes a work order, which is
closed. Plus the dashboard on a phone-sized screen.

The tests run in file order and share one browser session, as one person would. Screenshots of
the main pages go to PDM_SCREENSHOTS_DIR (default: a temporary folder printed in the log);
`make screenshots` points it at docs/screenshots/ to refresh the committed set.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import playwright.sync_api as playwright_api
import pytest
import redis
from django.conf import settings
from django_tenants.utils import tenant_context

from billing.services import usage_predictions
from jobs.models import Job
from machines.library import library_get
from machines.models import Upload
from maintenance.models import Alert, WorkOrder
from pdm_saas.celery import tenant_task_send
from predictions.models import Prediction
from predictions.selectors import machine_latest_prediction
from predictions.tasks import fleet_score_task
from tenants.models import Tenant
from tests.conftest import reading_after_last
from tests.live import free_port, process, python_bin, wait_for, web_stack
from tests.predictions.conftest import failing_run_readings

pytestmark = pytest.mark.live
SLUG = "umbrella"
EMAIL = "ops@umbrella.test"
PASSWORD = "Correct-Horse-42"
TYPE = "ai4i-milling-machine"
SAVED_MAPPING = "Mill export"
SIMULATED_MACHINES = "24"
PHONE = {"width": 390, "height": 844}  # the wizard's "advanced" field: fewer than the default, to keep the run short


@pytest.fixture(scope="module")
def stack(world: Any, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A worker on every queue and the web servers of `make run`, against the test database."""
    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()
    logs = tmp_path_factory.mktemp("browser")
    port = free_port()
    worker = [python_bin("celery"), "-A", "pdm_saas", "worker", "-Q", ",".join(settings.JOB_QUEUES), "-P", "solo",
              "-l", "info", "--without-gossip", "--without-mingle", "--without-heartbeat"]
    with django_db_blocker.unblock(), process(worker, log=logs / "worker.log", ready=lambda t: " ready." in t), \
            web_stack(port=port, logs=logs):
        yield port


def tenant_url(port: int, path: str = "/") -> str:
    return f"http://{SLUG}.localhost:{port}{path}"


def tenant() -> Tenant:
    return Tenant.objects.get(slug=SLUG)


def readings_csv(machine: str) -> bytes:
    """A run that ends in a failure, as a customer's export: one row per reading."""
    document = library_get(TYPE)
    items = failing_run_readings(document, machine)
    sensors = [s["name"] for s in document["sensors"]]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["timestamp", "machine", *sensors])
    for item in items:
        writer.writerow([item["ts"], machine, *[item["values"].get(name, "") for name in sensors]])
    return out.getvalue().encode()


def scored_on_the_fleet(page: Any, stack: int, machine: str) -> None:
    """Wait until the fleet shows `machine` with a health. The page is read again every few
    seconds: a live update sent before its socket connected would never reach it."""
    health = page.locator("#fleet-body tr", has_text=machine).locator("[data-field=health] .health")

    def shown() -> bool:
        page.goto(tenant_url(stack, "/"))
        if health.count():
            return True
        page.wait_for_timeout(1_000)
        return False

    wait_for(shown, timeout=90, what=f"a health for {machine} on the fleet")


def test_signup_lands_signed_in_on_an_empty_fleet(page: Any, stack: int, shots: Path) -> None:
    page.goto(f"http://localhost:{stack}/")
    page.screenshot(path=str(shots / "landing.png"), full_page=True)
    page.get_by_role("link", name="Start free trial").first.click()
    page.fill("input[name=organization_name]", "Umbrella Plants")
    page.fill("input[name=slug]", SLUG)
    page.fill("input[name=owner_email]", EMAIL)
    page.fill("input[name=owner_password]", PASSWORD)
    page.locator("form button[type=submit]").click()
    # Signed in on the new organization's host by signup's one-time link: no second password.
    page.wait_for_url(tenant_url(stack, "/"))
    assert "No machines yet" in page.locator("#fleet-body").inner_text()
    page.wait_for_selector("#live-state.on")  # the live channel is connected


def test_wizard_onboards_a_built_in_type_with_live_progress(page: Any, stack: int, shots: Path,
                                                            django_db_blocker: Any) -> None:
    page.get_by_role("link", name="Onboard").first.click()
    page.locator("tr", has=page.locator(f"input[value='{TYPE}']")).get_by_role("button").click()
    page.fill("#names", "Mill-1, Mill-2")
    page.fill("#site", "Plant A")
    page.get_by_role("button", name="Add machines").click()
    assert page.locator("#machine-list").inner_text().split() == ["Mill-1", "Mill-2"]
    page.screenshot(path=str(shots / "onboarding-wizard.png"), full_page=True)
    page.locator("details summary").click()
    page.fill("#sim-machines", SIMULATED_MACHINES)
    page.get_by_role("button", name="Generate data and train").click()
    page.wait_for_url("**/onboard/*/")
    job_id = int(page.url.rstrip("/").rsplit("/", 1)[1])

    seen: set[int] = set()

    def ready() -> bool:
        try:
            if page.locator("#ready").count() or page.locator("#job[data-status=failed]").count():
                return True
            seen.add(int(page.locator("[role=progressbar]").get_attribute("aria-valuenow") or 0))
        except playwright_api.Error:
            pass  # the page reloads itself when the job finishes
        return False

    wait_for(ready, timeout=240, what="the wizard to reach Ready")
    # The page reloads itself when the job finishes, and #ready exists as soon as it is parsed:
    # wait for its stylesheet too, or the hidden "Advanced" details count as text (a race CI hit).
    page.wait_for_load_state("load")
    with django_db_blocker.unblock(), tenant_context(tenant()):
        job = Job.objects.get(id=job_id)
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert any(0 < value < 100 for value in seen), f"the progress bar never moved in between: {sorted(seen)}"
    assert len(seen) >= 2, sorted(seen)  # it advanced while we watched, without a reload
    assert page.locator("#ready").is_visible()
    ready_text = page.inner_text("body")
    assert "how closely the training data matches" in ready_text  # the synthetic data's quality report
    # The models in words by default; their metric keys only under the Advanced switch.
    assert "Failure classifier" in ready_text and "Estimates how long a machine has left" in ready_text
    assert "roc_auc" not in ready_text and "Rul Regressor" not in ready_text
    assert page.locator("#sample-file").is_visible()  # a way to try it without a data export
    page.screenshot(path=str(shots / "onboarding-ready.png"), full_page=True)


def test_upload_a_csv_with_preview_and_mapping(page: Any, stack: int, shots: Path, tmp_path: Path) -> None:
    data = tmp_path / "mill-1.csv"
    data.write_bytes(readings_csv("Mill-1"))
    page.goto(tenant_url(stack, "/uploads/"))
    page.locator("select[name=machine_type]").select_option(label=library_get(TYPE)["name"])
    page.set_input_files("input[name=file]", str(data))
    page.get_by_role("button", name="Preview").click()
    assert "Mill-1" in page.inner_text("body")  # the first rows are previewed
    page.screenshot(path=str(shots / "upload-mapping.png"), full_page=True)
    page.fill("input[name=save_preset_as]", SAVED_MAPPING)  # for the next export of this layout
    page.get_by_role("button", name="Import").click()
    page.wait_for_url("**/uploads/*/")
    page.wait_for_selector("[data-job][data-status=succeeded], [data-job][data-status=failed]", timeout=120_000)
    assert page.locator("[data-job][data-status=succeeded]").count(), page.inner_text("main")
    page.get_by_role("heading", name="Rows").wait_for()  # the page reloaded itself with the report
    page.screenshot(path=str(shots / "upload-report.png"), full_page=True)
    # Fresh readings are scored at once, not at the next scheduled run.
    scored_on_the_fleet(page, stack, "Mill-1")


def test_a_saved_mapping_that_does_not_fit_the_next_file_is_refused(page: Any, stack: int, shots: Path,
                                                                   tmp_path: Path, django_db_blocker: Any) -> None:
    """The week's second export has another layout (its machine column under another name, one
    sensor fewer) and holds two machines. Its saved mapping is not applied by itself. Applied
    anyway, with the one machine picked that the person thinks the file is from, the import is
    refused, naming the column that holds the other machine's name, and nothing is stored; mapped
    by that column, it imports each row under its own machine."""
    rows = [row for machine in ("Mill-2", "Mill-1")
            for row in list(csv.reader(io.StringIO(readings_csv(machine).decode())))[1:]]
    header = next(csv.reader(io.StringIO(readings_csv("Mill-2").decode())))
    data = tmp_path / "line-export.csv"
    with data.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["timestamp", "asset", *header[3:]])  # "machine" renamed, the first sensor gone
        writer.writerows([row[0], row[1], *row[3:]] for row in rows)
    with django_db_blocker.unblock(), tenant_context(tenant()):
        uploads = Upload.objects.count()
    page.goto(tenant_url(stack, "/uploads/"))
    page.locator("select[name=machine_type]").select_option(label=library_get(TYPE)["name"])
    page.set_input_files("input[name=file]", str(data))
    page.get_by_role("button", name="Preview").click()
    assert page.locator("[data-field=unfit-preset]").is_visible()  # not filled in from the saved mapping
    page.locator("select#preset").select_option(SAVED_MAPPING)  # as the new user did: use it anyway
    page.get_by_role("button", name="Use it").click()
    page.wait_for_load_state("load")
    page.locator("select[name=machine_name]").select_option("Mill-2")
    page.get_by_role("button", name="Import").click()
    page.wait_for_load_state("load")
    doubts = page.locator("#mapping-doubts")
    assert doubts.is_visible(), page.inner_text("main")
    assert "'asset' is ignored" in doubts.inner_text() and "Mill-1" in doubts.inner_text()
    page.screenshot(path=str(shots / "upload-refused.png"), full_page=True)
    with django_db_blocker.unblock(), tenant_context(tenant()):
        assert Upload.objects.count() == uploads  # refused: nothing imported
    # Fixed: rows are filed by the file's own machine column; the layout confirmed as checked.
    page.locator("select[name=col_1]").select_option("machine")
    page.locator("select[name=machine_name]").select_option("")
    page.locator("input[name=confirm_mapping]").check()
    page.get_by_role("button", name="Import").click()
    page.wait_for_url("**/uploads/*/")
    page.wait_for_selector("[data-job][data-status=succeeded], [data-job][data-status=failed]", timeout=120_000)
    assert page.locator("[data-job][data-status=succeeded]").count(), page.inner_text("main")
    # Its run scores the type's machines; done once Mill-2, new in the file, has a health.
    scored_on_the_fleet(page, stack, "Mill-2")


def test_dashboard_updates_live_when_scoring_runs(page: Any, stack: int, shots: Path, django_db_blocker: Any) -> None:
    page.goto(tenant_url(stack, "/"))
    page.wait_for_selector("#live-state.on")
    names = page.locator("#fleet-body tr[data-machine] strong").all_inner_texts()
    assert sorted(names) == ["Mill-1", "Mill-2"]
    row = page.locator("#fleet-body tr", has_text="Mill-1")
    scored_at = row.locator("[data-field=scored] time")
    before = scored_at.get_attribute("datetime")  # when the upload's run scored it
    page.evaluate("window.__sameDocument = true")
    with django_db_blocker.unblock(), tenant_context(tenant()):
        scored = Prediction.objects.filter(source="scheduled").count()
        reading_after_last("Mill-1")  # beat's run scores what is new
        tenant_task_send(fleet_score_task, args=[], queue="score")  # what beat's dispatcher sends
    wait_for(lambda: scored_at.get_attribute("datetime") != before, timeout=60, what="the live update of Mill-1")
    assert row.locator("[data-field=scored]").inner_text() == "just now"
    assert page.evaluate("window.__sameDocument === true"), "the page reloaded"
    health = row.locator("[data-field=health] .health").inner_text()
    assert 0 <= int(health) <= 100
    with django_db_blocker.unblock(), tenant_context(tenant()):
        assert Prediction.objects.filter(source="scheduled").count() > scored
    page.screenshot(path=str(shots / "fleet-dashboard.png"), full_page=True)


def test_a_day_of_scheduled_scoring_with_nothing_new_bills_nothing(page: Any, stack: int, shots: Path,
                                                                    django_db_blocker: Any) -> None:
    """Beat scores every 15 minutes: 96 runs a day. With no new reading, none stores or bills a
    prediction, and the billing page reads the same count before and after."""
    page.goto(tenant_url(stack, "/billing/"))
    before = page.locator("#usage b").first.inner_text()
    with django_db_blocker.unblock(), tenant_context(tenant()):
        stored = Prediction.objects.count()
        used = usage_predictions(tenant_id=tenant().id)
        scored = [fleet_score_task.run() for _ in range(96)]  # what each of the day's runs does
        assert scored == [0] * 96
        assert Prediction.objects.count() == stored
        assert usage_predictions(tenant_id=tenant().id) == used > 0
    page.reload()
    assert page.locator("#usage b").first.inner_text() == before


def test_machine_detail_explains_the_prediction(page: Any, stack: int, shots: Path, django_db_blocker: Any) -> None:
    page.goto(tenant_url(stack, "/"))
    page.locator("#fleet-body a", has_text="Mill-1").click()
    page.wait_for_selector("#signal-charts .uplot")  # the sensor charts rendered
    assert page.locator("#factors li").count() >= 1
    page.screenshot(path=str(shots / "machine-detail.png"), full_page=True)
    # "When it happened": the scoring run's own attributions, a cell per signal and step.
    with django_db_blocker.unblock(), tenant_context(tenant()):
        latest = machine_latest_prediction(machine_id=Prediction.objects.filter(machine__name="Mill-1")[0].machine_id)
        assert latest is not None
        temporal = latest.explanation["temporal"]
    cells = page.locator("#heatmap td.heat")
    assert cells.count() == len(temporal["signals"]) * len(temporal["hours_ago"]) > 0
    assert page.locator("#heatmap tbody th").all_inner_texts()[0].startswith(temporal["signals"][0]["label"])
    assert "of what drove this prediction" in str(cells.last.get_attribute("title"))
    page.screenshot(path=str(shots / "machine-explanation-heatmap.png"), full_page=True)


def test_an_alert_becomes_a_work_order_that_is_closed(page: Any, stack: int, shots: Path,
                                                     django_db_blocker: Any) -> None:
    with django_db_blocker.unblock(), tenant_context(tenant()):
        alert = Alert.objects.filter(machine__name="Mill-1").first()
    assert alert is not None, "the failing run raised no alert"
    page.goto(tenant_url(stack, "/alerts/"))
    page.screenshot(path=str(shots / "alerts.png"), full_page=True)
    page.locator(f"#alert-{alert.id}").get_by_role("button", name="Open work order").click()
    page.wait_for_url("**/work-orders/*/")
    order_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
    page.get_by_role("button", name="Move to In Progress").click()  # work starts before it can be closed
    close = page.locator("form", has=page.get_by_role("button", name="Close work order"))
    close.locator("[name=failure_found][value=yes]").check()
    close.locator("[name=action_taken]").fill("Replaced the tool; spindle runout within tolerance.")
    close.locator("[name=actual_cost]").fill("850")
    close.locator("[name=actual_downtime_hours]").fill("3.5")
    close.get_by_role("button", name="Close work order").click()
    page.wait_for_load_state()
    with django_db_blocker.unblock(), tenant_context(tenant()):
        order = WorkOrder.objects.get(id=order_id)
    assert order.status == WorkOrder.Status.DONE and order.alert_id == alert.id
    assert order.actual_cost is not None and float(order.actual_cost) == 850.0
    page.goto(tenant_url(stack, "/work-orders/"))
    page.screenshot(path=str(shots / "work-orders.png"), full_page=True)
    page.goto(tenant_url(stack, "/models/"))
    page.screenshot(path=str(shots / "models.png"), full_page=True)
    page.goto(tenant_url(stack, "/planning/"))
    assert page.get_by_role("heading", name="Maintenance planning").count()
    page.screenshot(path=str(shots / "planning.png"), full_page=True)
    page.goto(tenant_url(stack, "/insights/"))
    assert page.get_by_role("heading", name="Insights").count()
    page.screenshot(path=str(shots / "insights.png"), full_page=True)
    page.goto(tenant_url(stack, "/billing/"))
    assert page.get_by_role("heading", name="Billing").count()
    page.screenshot(path=str(shots / "billing.png"), full_page=True)


def test_a_plan_takes_in_the_machine_with_the_critical_alert(page: Any, stack: int, shots: Path,
                                                             django_db_blocker: Any) -> None:
    """Mill-2's export ended in a failure: its critical alert is open (Mill-1's was closed by its
    work order). A technician is added with a skill picked by its label, and the plan made in the
    worker has Mill-2 in it, with a sentence saying why."""
    with django_db_blocker.unblock(), tenant_context(tenant()):
        alerted = sorted({a.machine.name for a in Alert.objects.filter(
            status__in=[Alert.Status.OPEN, Alert.Status.ACKNOWLEDGED], severity="critical").select_related("machine")})
    assert "Mill-2" in alerted, alerted
    page.goto(tenant_url(stack, "/planning/"))
    page.locator("section[aria-labelledby=technicians] details summary").first.click()
    form = page.locator("form[action='/planning/technicians/']")
    form.locator("input[name=name]").fill("Dana")
    skills = form.locator("select[name=skills] option").all_inner_texts()
    mills = f"{library_get(TYPE)['category'].replace('_', ' ').capitalize()}: any repair"
    assert mills in skills, skills
    form.locator("select[name=skills]").select_option(label=mills)
    for day in form.locator("input[name=working_weekdays]").all():  # a failing machine may not wait for Monday
        day.check()
    form.get_by_role("button", name="Add technician").click()
    page.wait_for_url("**/planning/#technicians")
    page.get_by_role("button", name="Make a plan").click()
    page.wait_for_url("**/planning/plans/*/")
    # The page reloads itself when the job ends.
    page.wait_for_selector(".plan-status, p.message.error, #job[data-status=failed]", timeout=120_000)
    assert page.locator(".plan-status").count(), page.inner_text("main")
    page.wait_for_load_state("load")  # styles applied, so what sits under Advanced is hidden text
    planned = page.locator("li.machine-reason.in-plan").all_inner_texts()
    assert any("Mill-2" in reason for reason in planned), (page.locator(".plan-status").inner_text(), planned,
                                                            page.locator("li.machine-reason").all_inner_texts())
    assert "gap" not in page.locator(".plan-status").inner_text()  # the solver's figures sit under Advanced
    page.screenshot(path=str(shots / "planning-plan.png"), full_page=True)


def test_a_work_order_by_hand(page: Any, stack: int, shots: Path, django_db_blocker: Any) -> None:
    """An operator heard a noise on Mill-1: a work order without an alert, for one of the mill's
    failure modes by its label, assigned by name."""
    page.goto(tenant_url(stack, "/work-orders/"))
    page.get_by_role("link", name="New work order").click()
    page.wait_for_url("**/work-orders/new/")
    mill = page.locator("#id_machine option", has_text="Mill-1").get_attribute("value")
    page.select_option("#id_machine", value=mill)
    mode = page.locator("#id_failure_mode optgroup:not([disabled]) option").first.inner_text()
    assert "_" not in mode  # a label, not a key
    page.select_option("#id_failure_mode", label=mode)
    page.select_option("#id_priority", label="High")
    page.fill("#id_due_at", "2031-01-15T07:00")
    member = page.locator("#id_assignee option").all_inner_texts()[-1]
    page.select_option("#id_assignee", label=member)
    page.screenshot(path=str(shots / "work-order-new.png"), full_page=True)
    page.get_by_role("button", name="Create work order").click()
    page.wait_for_url("**/work-orders/*/")
    assert page.get_by_role("heading", name="WO-").inner_text().endswith(f"{mode} on Mill-1")
    history = page.locator("table.work-order-history tbody").inner_text()
    assert "Created" in history and "None" not in history


def test_dashboard_fits_a_phone(browser: Any, page: Any, stack: int, shots: Path) -> None:
    phone = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True,
                                device_scale_factor=2, storage_state=page.context.storage_state())
    try:
        tab = phone.new_page()
        tab.goto(tenant_url(stack, "/"))
        assert tab.locator("#fleet-body tr", has_text="Mill-1").is_visible()
        # Against the fixed width: a mobile browser zooms out to fit a too-wide page, so its own
        # innerWidth would grow with the overflow and hide it.
        overflow = tab.evaluate(f"document.documentElement.scrollWidth - {PHONE['width']}")
        assert overflow <= 1, f"the page is {overflow}px wider than the phone"
        # The navigation folds behind a menu button, and opens from it.
        menu = tab.locator("button.menu-toggle")
        assert menu.is_visible() and menu.get_attribute("aria-expanded") == "false"
        assert not tab.get_by_role("link", name="Work orders").is_visible()
        tab.screenshot(path=str(shots / "fleet-phone.png"), full_page=True)
        # A machine's page: its heatmap scrolls inside its card, the page stays the phone's width.
        tab.locator("#fleet-body a", has_text="Mill-1").click()
        tab.wait_for_selector("#heatmap")
        tab.wait_for_load_state("load")  # a click's navigation: #heatmap is parsed before app.css applies
        overflow = tab.evaluate(f"document.documentElement.scrollWidth - {PHONE['width']}")
        assert overflow <= 1, f"the machine page is {overflow}px wider than the phone"
        tab.locator("#when-card").scroll_into_view_if_needed()
        tab.screenshot(path=str(shots / "machine-explanation-phone.png"))
        tab.goto(tenant_url(stack, "/"))
        menu.click()
        assert menu.get_attribute("aria-expanded") == "true"
        assert tab.get_by_role("link", name="Work orders").is_visible()
        # The board opens on a column with work orders in it, not on an empty one.
        tab.goto(tenant_url(stack, "/work-orders/"))
        tab.wait_for_load_state("load")
        columns = tab.locator(".work-order-board > [data-status]")
        shown = [c for c in columns.all() if (box := c.bounding_box()) and 0 <= box["x"] < PHONE["width"] / 2]
        assert shown and shown[0].locator(".ticket").count(), "the board opened on an empty column"
        tab.screenshot(path=str(shots / "work-orders-phone.png"))
    finally:
        phone.close()


def test_a_cycle_machine_s_page_and_charts_count_cycles(page: Any, stack: int, django_db_blocker: Any) -> None:
    """Cycle-indexed data (stored at 1970 + cycle seconds) is shown in cycles: the RUL, the chart
    axes (cycles, not 1970 dates), with no script error on the way."""
    from datetime import UTC, datetime, timedelta

    from machines.live import readings_push
    from machines.services import machine_create, machine_type_adopt

    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    with django_db_blocker.unblock(), tenant_context(tenant()):
        engine_type = machine_type_adopt(key="turbofan-engine-cmapss")
        engine = machine_create(machine_type_id=engine_type.id, name="Engine-1")
        sensor = next(s["name"] for s in engine_type.metadata["sensors"] if s["name"].startswith("t"))
        readings_push(items=[{"machine": "Engine-1", "ts": (epoch + timedelta(seconds=c)).isoformat(),
                              "values": {sensor: 640.0 + c / 100}} for c in range(1, 151)])
        for cycle, rul in ((140, 47.0), (150, 37.0)):  # one model hour per cycle
            Prediction.objects.create(machine=engine, versions={}, source="api",
                                      window_end=epoch + timedelta(hours=cycle), horizon_h=20.0, probability=0.2,
                                      predicted_failure=False, rul_h=rul, rul_lower_h=rul - 7, rul_upper_h=rul + 7,
                                      health_score=70.0, confidence=0.5)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(tenant_url(stack, f"/machines/{engine.id}/"))
    page.wait_for_selector("#rul-chart .uplot")
    page.wait_for_selector("#signal-charts .uplot")
    assert page.locator("[data-field=rul]").inner_text() == "37 cycles"
    # The legends name the x axis "cycle" (a time axis would read "Time" and print 1970 dates).
    legend = [label.lower() for label in page.locator("#rul-chart .u-label").all_inner_texts()]
    history = [label.lower() for label in page.locator("#history-chart .u-label").all_inner_texts()]
    assert legend[:2] == ["cycle", "rul cycles"] and history[0] == "cycle", (legend, history)
    assert not errors, errors
