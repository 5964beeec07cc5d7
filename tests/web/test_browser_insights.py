"""The Insights page and the weekly summary email as a tenant admin meets them, in a real headless
Chromium against a real ASGI server and a real Celery worker (docs/insights.md).

One organization (Vandelay) gets a known history through our services: two repairs planned from
alerts, one routine job, failures with and without warning, predictions, a champion classifier's
outcome snapshots and an upload. Every KPI the page shows is worked out by hand below from those
numbers and the library's cost figures. Then: the period control, who is refused, the admin's
opt-out, and the weekly summary sent by the worker through SMTP to a local mail sink, whose link
leads back to the page.

The tests run in file order and share the admin's browser session. Screenshots of the page (30
and 7 days) and of the email go to PDM_SCREENSHOTS_DIR, as in test_browser_flow.py.
"""

from __future__ import annotations

import re
import socketserver
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings
from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts.models import User
from accounts.roles import Role
from accounts.services import membership_add
from billing.services import subscription_grant
from insights.models import SummaryPreference, WeeklySummary
from insights.tasks import weekly_summary_task
from machines.failures import failure_event_create
from machines.library import library_get
from machines.models import Machine, Upload
from machines.services import machine_create, machine_type_adopt
from maintenance.models import Alert, WorkOrder
from maintenance.services.alerts import alert_raise
from maintenance.services.work_orders import work_order_close, work_order_create, work_order_transition
from pdm_saas.celery import tenant_task_send
from predictions.models import DriftReport, ModelVersion, OutcomeSnapshot, Prediction
from tenants.models import Tenant
from tenants.services import tenant_deactivate, tenant_signup
from tests.conftest import MOTOR, PASSWORD
from tests.live import free_port, process, python_bin, wait_for, web_stack

pytestmark = pytest.mark.live
SLUG = "vandelay"
OWNER, ADMIN = "owner@vandelay.test", "admin@vandelay.test"
SUBJECT = "weekly maintenance summary"

# The history, in days before the test run. Library costs of the Siemens 1LA7 type (checked in
# `vandelay`): bearing_wear 900 + 4 h, stator_insulation_degradation 2200 + 8 h, 800 per hour of
# downtime, unplanned failures cost x3. M-1 has its own 1000 per hour.
#   WO on M-1 from an alert 3 days ago, closed 2 days ago, bearing_wear found, 1500 and 2.5 h:
#     (900 + 4 x 1000) x 3 - 1500 = 13200 avoided; 4 x 3 - 2.5 = 9.5 h prevented.
#   WO on M-2 from a stator alert 14 days ago, closed 12 days ago, failure found (mode not named,
#     so the alert's), 4000 and 6 h: (2200 + 8 x 800) x 3 - 4000 = 21800; 8 x 3 - 6 = 18 h.
#   WO on M-3 without an alert, created 4 and closed 3 days ago, nothing found, 300: maintenance only.
#   Failures entered by hand: M-3 5 and 20 days ago (unplanned: nothing before them); M-1 1 day ago
#     (its alert was opened 3 days before: not unplanned).
# The Starter plan, 500.00 a month: 500 x 7 / 30 = 116.67 for 7 days.
#   ROI over 7 days: 13200 / (116.67 + 1500 + 300) = 6.89; over 30: 35000 / (500 + 5800) = 5.56.
# PREDICTIONS below: 5 in 30 days, 2 predicting a failure; in 7 days 2, 1 of them. "bins" are
# their confidences in tenths; "points" the champion's outcome snapshots (SNAPSHOTS) on its chart.
EXPECTED: dict[int, dict[str, Any]] = {
    7: {"caught": 1, "unplanned": 1, "downtime": "9.50", "avoided": "13,200.00", "maintenance": "1,800.00",
        "subscription": "116.67", "roi": "6.89x",
        "predictions": 2, "rate": "50%", "bins": [0, 0, 0, 0, 0, 0, 0, 0, 1, 1], "points": 1},
    30: {"caught": 2, "unplanned": 2, "downtime": "27.50", "avoided": "35,000.00", "maintenance": "5,800.00",
         "subscription": "500.00", "roi": "5.56x",
         "predictions": 5, "rate": "40%", "bins": [0, 0, 0, 0, 1, 1, 0, 0, 1, 2], "points": 3},
}
# (machine, days ago, probability, predicts a failure, confidence): M-1's latest predicts one.
PREDICTIONS = [("M-1", 20, 0.3, False, 0.45), ("M-1", 10, 0.6, False, 0.55), ("M-1", 1, 0.87, True, 0.92),
               ("M-2", 25, 0.9, True, 0.95), ("M-2", 2, 0.2, False, 0.81)]
# The champion's outcome snapshots (days ago, counts): the page sums the latest one's.
SNAPSHOTS = [(20, {"tp": 1, "fp": 4, "tn": 5, "fn": 1}), (10, {"tp": 2, "fp": 3, "tn": 8, "fn": 1}),
             (1, {"tp": 3, "fp": 2, "tn": 10, "fn": 1, "pending": 4})]


# --- a mail server the worker talks SMTP to -----------------------------------------------------


class _SmtpSession(socketserver.StreamRequestHandler):
    server: MailSink

    def handle(self) -> None:
        self.reply("220 sink ready")
        for line in iter(self.rfile.readline, b""):
            verb = line[:4].upper()
            if verb == b"QUIT":
                self.reply("221 bye")
                return
            if verb == b"DATA":
                self.reply("354 end with <CRLF>.<CRLF>")
                self.server.messages.append(message_from_bytes(self.data(), policy=policy.default))  # type: ignore[arg-type]
            self.reply("250 ok")  # EHLO, MAIL, RCPT, RSET, NOOP and the end of DATA

    def data(self) -> bytes:
        lines = []
        for line in iter(self.rfile.readline, b""):
            if line == b".\r\n":
                break
            lines.append(line[1:] if line.startswith(b"..") else line)  # undo dot-stuffing
        return b"".join(lines)

    def reply(self, text: str) -> None:
        self.wfile.write(text.encode() + b"\r\n")


class MailSink(socketserver.ThreadingTCPServer):
    """Stands in for the mail provider: keeps every message Django's SMTP backend sends."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _SmtpSession)
        self.messages: list[EmailMessage] = []

    def summaries(self) -> list[EmailMessage]:
        return [m for m in self.messages if SUBJECT in str(m["Subject"])]  # alerts mail members too


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sink() -> Iterator[MailSink]:
    server = MailSink()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def stack(world: Any, sink: MailSink, django_db_blocker: Any,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A worker on every queue and a Daphne server against the test database; the worker mails
    through SMTP to `sink` and its links point at this Daphne (the env settings.py reads)."""
    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()
    logs = tmp_path_factory.mktemp("insights")
    port = free_port()
    worker = [python_bin("celery"), "-A", "pdm_saas", "worker", "-Q", ",".join(settings.JOB_QUEUES), "-P", "solo",
              "-l", "info", "--without-gossip", "--without-mingle", "--without-heartbeat"]
    mail_env = {"DJANGO_EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "DJANGO_EMAIL_HOST": "127.0.0.1", "DJANGO_EMAIL_PORT": str(sink.server_address[1]),
                "PDM_SITE_URL": f"http://localhost:{port}"}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in mail_env.items():
            patch.setenv(name, value)  # read by the children's settings; this process's are loaded
        with django_db_blocker.unblock(), process(worker, log=logs / "worker.log", ready=lambda t: " ready." in t), \
                web_stack(port=port, logs=logs):
            yield port


@pytest.fixture(scope="module")
def vandelay(world: Any, django_db_blocker: Any) -> Iterator[Tenant]:
    """The organization with the history described at the top (committed, for the servers)."""
    with django_db_blocker.unblock():
        signup = tenant_signup(organization_name="Vandelay Industries", slug=SLUG, owner_email=OWNER,
                               owner_password=PASSWORD)
        for role in (Role.ADMIN, Role.ENGINEER, Role.VIEWER):
            membership_add(user=User.objects.create_user(f"{role}@vandelay.test", PASSWORD), tenant=signup.tenant,
                           role=role)
        assert subscription_grant(tenant=signup.tenant, plan_code="starter").plan.monthly_price_cents == 50_000
        with tenant_context(signup.tenant):
            _history(actor_id=signup.owner.id)
    yield signup.tenant
    with django_db_blocker.unblock():
        tenant_deactivate(tenant=signup.tenant)  # out of later fan-outs to "every active tenant"


def _history(*, actor_id: int) -> None:
    document = library_get(MOTOR)
    modes = {m["name"]: (m["repair_cost"], m["downtime_hours"]) for m in document["failure_modes"]}
    assert modes["bearing_wear"] == (900, 4) and modes["stator_insulation_degradation"] == (2200, 8)
    assert (document["costs"]["downtime_per_hour"], document["costs"]["unplanned_failure_multiplier"]) == (800, 3)
    motor = machine_type_adopt(key=MOTOR)
    m1 = machine_create(machine_type_id=motor.id, name="M-1", downtime_cost_per_hour=Decimal(1000))
    m2 = machine_create(machine_type_id=motor.id, name="M-2")
    m3 = machine_create(machine_type_id=motor.id, name="M-3")
    Machine.objects.filter(id=m2.id).update(downtime_cost_per_hour=None)  # the type's 800 per hour
    _repair(m1, "bearing_wear", found="bearing_wear", opened=3, closed=2, cost="1500", hours="2.5", actor_id=actor_id)
    _repair(m2, "stator_insulation_degradation", found="", opened=14, closed=12, cost="4000", hours="6",
            actor_id=actor_id)
    _routine(m3, created=4, closed=3, cost="300", actor_id=actor_id)
    for machine, days in ((m3, 5), (m3, 20), (m1, 1)):
        failure_event_create(machine=machine, occurred_at=_ago(days), failure_mode="bearing_wear")
    opened = alert_raise(machine_id=m3.id, failure_mode="cooling_obstruction", probability=0.85).alert
    assert opened is not None  # open now: the email's one open alert
    _predictions({"M-1": m1, "M-2": m2})
    _champion(motor.id)
    Upload.objects.create(original_name="march-readings.csv", stored_path="x", size_bytes=1, sha256="0" * 64,
                          machine_type=motor, mapping={}, status=Upload.Status.SUCCEEDED, rows_read=400,
                          rows_rejected=20, report={"sensors": {"winding_temp_c": {"missing_pct": 1.5, "stuck": True},
                                                                "current_a": {"missing_pct": 0.0}}})


def _ago(days: float) -> Any:
    return timezone.now() - timedelta(days=days)


def _repair(machine: Machine, mode: str, *, found: str, opened: int, closed: int, cost: str, hours: str,
            actor_id: int) -> None:
    """An alert that became a work order, closed with a failure found: a caught failure."""
    alert = alert_raise(machine_id=machine.id, failure_mode=mode, probability=0.9).alert
    assert alert is not None
    order = work_order_create(machine_id=machine.id, title="", actor_id=actor_id, alert_id=alert.id)
    work_order_transition(order_id=order.id, to_status=WorkOrder.Status.IN_PROGRESS, actor_id=actor_id)
    work_order_close(order_id=order.id, actor_id=actor_id, failure_found=True, action_taken="Repaired",
                     failure_mode_found=found, actual_cost=Decimal(cost), actual_downtime_hours=Decimal(hours),
                     occurred_at=_ago(closed))
    # The services stamp "now"; this history happened earlier.
    Alert.objects.filter(id=alert.id).update(opened_at=_ago(opened), resolved_at=_ago(closed))
    WorkOrder.objects.filter(id=order.id).update(created_at=_ago(opened - 0.5), closed_at=_ago(closed))


def _routine(machine: Machine, *, created: int, closed: int, cost: str, actor_id: int) -> None:
    order = work_order_create(machine_id=machine.id, title="Routine check", actor_id=actor_id)
    work_order_transition(order_id=order.id, to_status=WorkOrder.Status.IN_PROGRESS, actor_id=actor_id)
    work_order_close(order_id=order.id, actor_id=actor_id, failure_found=False, action_taken="Greased",
                     actual_cost=Decimal(cost))
    WorkOrder.objects.filter(id=order.id).update(created_at=_ago(created), closed_at=_ago(closed))


def _predictions(machines: dict[str, Machine]) -> None:
    # Rows only insights reads: made directly, as tests/insights/test_kpis.py does.
    for name, days, probability, failure, confidence in PREDICTIONS:
        row = Prediction.objects.create(machine=machines[name], versions={}, source="scheduled", window_end=_ago(days),
                                        horizon_h=24, probability=probability, predicted_failure=failure,
                                        failure_mode="bearing_wear" if failure else "", health_score=50,
                                        confidence=confidence)
        Prediction.objects.filter(id=row.id).update(created_at=_ago(days))


def _champion(machine_type_id: int) -> None:
    version = ModelVersion.objects.create(machine_type_id=machine_type_id, kind=ModelVersion.Kind.FAILURE_CLASSIFIER,
                                          number=1, status=ModelVersion.Status.CHAMPION, data_source="simulated",
                                          data_fingerprint="f", artifact_path="x", artifact_sha256="0" * 64)
    for days, counts in SNAPSHOTS:
        tp, fp, tn, fn = counts["tp"], counts["fp"], counts["tn"], counts["fn"]
        snapshot = OutcomeSnapshot.objects.create(version=version, window_start=_ago(days + 28), window_end=_ago(days),
                                                  precision=tp / (tp + fp), recall=tp / (tp + fn), fpr=fp / (fp + tn),
                                                  **counts)
        OutcomeSnapshot.objects.filter(id=snapshot.id).update(created_at=_ago(days))
    DriftReport.objects.create(version=version, window_start=_ago(7), window_end=_ago(0), threshold=0.1,
                               status=DriftReport.Status.OK, drift_share=0.0)


def url(port: int, path: str = "/", slug: str = SLUG) -> str:
    return f"http://{slug}.localhost:{port}{path}"


def new_tab(browser: Any) -> Any:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    return context.new_page()


def sign_in(tab: Any, email: str) -> None:
    """On the login page (of whichever tenant host the tab is on): fill it in and submit."""
    tab.fill("input[name=username]", email)
    tab.fill("input[name=password]", PASSWORD)
    tab.locator("form button[type=submit]").click()
    tab.wait_for_load_state()


def signed_in(browser: Any, port: int, email: str, path: str = "/insights/") -> Any:
    tab = new_tab(browser)
    tab.goto(url(port, f"/accounts/login/?next={path}"))
    sign_in(tab, email)
    tab.wait_for_url(url(port, path))
    return tab


@pytest.fixture(scope="module")
def admin_tab(browser: Any, stack: int, vandelay: Tenant) -> Iterator[Any]:
    tab = signed_in(browser, stack, ADMIN)
    yield tab
    tab.context.close()


def shown(tab: Any) -> dict[str, Any]:
    """The figures the page shows, under the names of `expected`."""
    text: Callable[[str], str] = lambda selector: tab.locator(selector).inner_text().strip()  # noqa: E731
    roi_note = text("#kpi-roi + span")
    subscription = re.search(r"\(([\d,.]+) subscription \+ ([\d,.]+) maintenance\)", roi_note)
    assert subscription, roi_note
    return {
        "caught": int(text("#kpi-caught")), "unplanned": int(text("#kpi-unplanned")),
        "downtime": text("#kpi-downtime").removesuffix(" h"), "avoided": text("#kpi-avoided").removesuffix(" USD"),
        "roi": text("#kpi-roi"), "subscription": subscription[1], "maintenance": subscription[2],
        "predictions": int(text("#pred-count")), "rate": text("#pred-rate"),
        "bins": [int(n) for n in tab.locator("#confidence li .num").all_inner_texts()],
        "points": len(tab.evaluate("JSON.parse(document.getElementById('perf-data').textContent)[0].x")),
    }


def assert_chart_drawn(tab: Any) -> None:
    canvas = tab.locator(".model-performance .chart canvas").first
    canvas.wait_for()
    box = canvas.bounding_box()
    assert box and box["width"] > 100 and box["height"] > 100, box
    legend = tab.locator(".model-performance .uplot .u-legend").text_content()  # not upper-cased by CSS
    assert all(label in legend for label in ("precision", "recall", "FPR")), legend


# --- the tests ----------------------------------------------------------------------------------


def test_the_page_shows_the_kpis_of_the_history(admin_tab: Any, vandelay: Tenant, shots: Path) -> None:
    tab = admin_tab
    assert tab.get_by_role("heading", name="Insights").count()
    assert tab.locator("select[name=days]").input_value() == "30"  # the default period
    assert shown(tab) == EXPECTED[30]
    caught = tab.locator("section[aria-labelledby=business] tbody tr")
    assert caught.count() == 2
    # The alert's mode (none was found), by its label in the metadata.
    assert "Stator winding insulation degradation" in caught.nth(0).inner_text()
    assert re.search(r"13,200\.00\s*$", caught.nth(1).inner_text()), caught.nth(1).inner_text()
    unplanned = tab.locator("section[aria-labelledby=business] h3 + ul li").all_inner_texts()
    assert [line.split(":")[0] for line in unplanned] == ["M-3", "M-3"]
    assert all(": Drive-end bearing wear on " in line for line in unplanned), unplanned
    assert tab.locator("#pred-fp").inner_text() == "2"  # the latest snapshot's false positives
    assert tab.locator("#pred-fn").inner_text() == "1"
    assert "drift: ok" in tab.locator(".model-performance h3").inner_text()
    assert_chart_drawn(tab)
    upload = tab.locator("section[aria-labelledby=quality] tbody tr", has_text="march-readings.csv").inner_text()
    # Signals by their labels (the Siemens 1LA7's winding_temp_c), stuck and missing alike.
    assert "5%" in upload and "winding_temp_c" not in upload
    assert "Stator winding temperature (PT100) 1.5%" in upload
    assert tab.locator("section[aria-labelledby=quality] .badge.warning", has_text="Stator winding").count() == 1
    tab.locator("#how summary").click()
    assert tab.locator("#how dd").first.is_visible()
    tab.screenshot(path=str(shots / "insights-30-days.png"), full_page=True)


def test_the_period_control_changes_what_is_shown(admin_tab: Any, vandelay: Tenant, shots: Path) -> None:
    tab = admin_tab
    tab.locator("select[name=days]").select_option("7")
    tab.get_by_role("button", name="Show").click()
    tab.wait_for_url("**/insights/?days=7")
    assert "(7 days)" in tab.locator("main").inner_text()
    assert shown(tab) == EXPECTED[7]
    assert tab.locator("section[aria-labelledby=business] tbody tr").count() == 1
    assert_chart_drawn(tab)
    tab.screenshot(path=str(shots / "insights-7-days.png"), full_page=True)


@pytest.mark.parametrize("role", [Role.VIEWER, Role.ENGINEER])
def test_viewer_and_engineer_read_but_may_not_change_the_email_setting(browser: Any, stack: int, vandelay: Tenant,
                                                                        role: str, django_db_blocker: Any) -> None:
    tab = signed_in(browser, stack, f"{role}@vandelay.test")
    try:
        assert tab.locator("#kpi-caught").inner_text() == "2"  # every member reads the numbers
        assert not tab.locator("input[name=weekly_email]").count()  # the setting is not offered
        # Posting the admin's form anyway (its CSRF token is on <body> for htmx) is refused.
        with tab.expect_response(url(stack, "/insights/email/")) as answer:
            tab.evaluate("""() => {
                const form = Object.assign(document.createElement("form"),
                                           {method: "post", action: "/insights/email/"});
                const token = JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRFToken"];
                form.append(Object.assign(document.createElement("input"),
                                          {type: "hidden", name: "csrfmiddlewaretoken", value: token}));
                document.body.append(form);
                form.submit();
            }""")
        assert answer.value.status == 403
        tab.wait_for_load_state()
        assert "needs the Admin role" in tab.locator("main").inner_text()
        with django_db_blocker.unblock(), tenant_context(vandelay):
            assert not SummaryPreference.objects.exists()
    finally:
        tab.context.close()


def test_a_member_of_another_tenant_gets_404(browser: Any, stack: int, vandelay: Tenant, world: Any) -> None:
    tab = new_tab(browser)
    try:
        tab.goto(url(stack, "/accounts/login/?next=/insights/"))
        sign_in(tab, world.globex_owner.email)  # this host's login refuses Globex's owner
        assert "for this organization" in tab.locator("main").inner_text()
        tab.goto(url(stack, "/accounts/login/", slug=world.globex.slug))
        sign_in(tab, world.globex_owner.email)
        tab.wait_for_url(url(stack, "/", slug=world.globex.slug))
        # Even with their session carried over to Vandelay's host, the page does not exist for them.
        session = next(c for c in tab.context.cookies() if c["name"] == settings.SESSION_COOKIE_NAME)
        tab.context.add_cookies([{"name": session["name"], "value": session["value"],
                                  "domain": f"{SLUG}.localhost", "path": "/"}])
        assert tab.goto(url(stack, "/insights/")).status == 404
        assert tab.goto(url(stack, "/insights/", slug=world.globex.slug)).status == 200  # their own
    finally:
        tab.context.close()


def test_the_admin_opts_out_of_the_weekly_summary(admin_tab: Any, stack: int, vandelay: Tenant,
                                                  django_db_blocker: Any) -> None:
    tab = admin_tab
    tab.goto(url(stack, "/insights/"))
    box = tab.get_by_label("Email me the weekly summary")
    assert box.is_checked()  # no preference yet: yes
    box.uncheck()
    tab.locator("section[aria-labelledby=email]").get_by_role("button", name="Save").click()
    tab.get_by_text("You will no longer get the weekly summary by email.").wait_for()
    assert not tab.get_by_label("Email me the weekly summary").is_checked()
    with django_db_blocker.unblock(), tenant_context(vandelay):
        admin = User.objects.get(email=ADMIN)
        assert SummaryPreference.objects.get(user_id=admin.id).weekly_email is False


def test_the_weekly_summary_reaches_the_owner_with_the_page_figures(browser: Any, stack: int, vandelay: Tenant,
                                                                   sink: MailSink, shots: Path,
                                                                   django_db_blocker: Any) -> None:
    with django_db_blocker.unblock(), tenant_context(vandelay):
        tenant_task_send(weekly_summary_task, args=[], queue="default")  # what beat's dispatcher sends

    def sent() -> bool:
        with django_db_blocker.unblock(), tenant_context(vandelay):
            return WeeklySummary.objects.exists()  # committed with the sending, after the SMTP talk

    wait_for(sent, timeout=60, what="the worker to send the weekly summary")
    with django_db_blocker.unblock(), tenant_context(vandelay):
        assert WeeklySummary.objects.get().recipients == 1
    (mail,) = sink.summaries()  # the admin opted out; engineer and viewer never get it
    assert mail["To"] == OWNER and "Vandelay Industries" in mail["Subject"]
    text = mail.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    html = mail.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    week = EXPECTED[7]
    for line in (f"Failures caught before they happened: {week['caught']}", f"Unplanned failures: {week['unplanned']}",
                 f"Downtime prevented: {week['downtime']} h", f"Maintenance cost avoided: {week['avoided']} USD",
                 f"ROI: {week['roi']}", "Machines at risk: 1 of 3", "M-1: 87% Drive-end bearing wear", "Open alerts: 1",
                 "Work orders closed in the last 7 days: 2", "Model drift (champion failure classifiers): ok 1"):
        assert line in text, (line, text)
    assert f"<b>{week['avoided']} USD</b>" in html and f"<b>{week['roi']}</b>" in html

    tab = new_tab(browser)
    try:
        tab.set_content(html)
        tab.screenshot(path=str(shots / "weekly-summary-email.png"), full_page=True)
        link = tab.get_by_role("link", name="Open Insights").get_attribute("href")
        assert link and link in text and link.startswith(url(stack, "/insights/")), link
        tab.goto(link)  # not signed in: the login page, then back to the link
        sign_in(tab, OWNER)
        tab.wait_for_url(link)
        assert tab.locator("header .tenant").inner_text() == "Vandelay Industries"
        assert tab.locator("select[name=days]").input_value() == "7"  # the email's period
        page = shown(tab)  # what the owner reads there is what the email said
        assert {key: page[key] for key in ("caught", "unplanned", "downtime", "avoided", "roi")} == \
            {key: week[key] for key in ("caught", "unplanned", "downtime", "avoided", "roi")}
    finally:
        tab.context.close()
