"""Public pages: landing and signup on the public host; login, logout, password reset and
invitation acceptance on a tenant host."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
import time_machine
from django.test import Client, override_settings

from accounts.models import Membership, User
from accounts.roles import Actor, Role
from accounts.services import invitation_create

from ..conftest import PASSWORD


def _no_external_assets(html: str) -> None:
    for url in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert not url.startswith(("http://", "https://", "//")), url


def test_landing_is_a_product_page_with_plans_and_no_external_assets(db, world):
    page = Client(HTTP_HOST="localhost").get("/")
    html = page.content.decode()
    assert page.status_code == 200
    for text in ("Know which machine fails next", "Cold start", "explain themselves", "Fewer false alarms",
                 "Starter", "$500/month", 'href="/signup/"'):
        assert text in html, text
    _no_external_assets(html)


def test_signup_page_renders_and_creates_an_organization(db, world):
    browser = Client(HTTP_HOST="localhost")
    page = browser.get("/signup/")
    assert page.status_code == 200 and b"Create your organization" in page.content
    _no_external_assets(page.content.decode())
    done = browser.post("/signup/", {"organization_name": "Initech", "slug": "initech",
                                     "owner_email": "o@initech.test", "owner_password": PASSWORD})
    assert done.status_code == 302 and done["Location"].startswith("http://initech.localhost/accounts/welcome/")
    assert Membership.objects.filter(tenant__slug="initech", role=Role.OWNER).exists()


def test_login_page_links_to_password_reset(db, world):
    page = Client(HTTP_HOST="acme.localhost").get("/accounts/login/")
    assert page.status_code == 200 and b'href="/accounts/password-reset/"' in page.content


def test_logout_lands_on_login_with_a_message(client_for):
    member = client_for("viewer")
    response = member.post("/accounts/logout/", follow=True)
    assert response.redirect_chain[-1][0] == "/accounts/login/"
    assert b"You have signed out." in response.content
    assert member.get("/accounts/organization/").status_code == 302


def test_password_reset_mails_members_only_and_never_tells(db, world, mailoutbox):
    browser = Client(HTTP_HOST="acme.localhost")
    assert browser.get("/accounts/password-reset/").status_code == 200
    answers = [browser.post("/accounts/password-reset/", {"email": email})
               for email in ("owner@globex.test", "nobody@nowhere.test", "engineer@acme.test")]
    assert {(a.status_code, a["Location"]) for a in answers} == {(302, "/accounts/password-reset/sent/")}
    assert [m.to for m in mailoutbox] == [["engineer@acme.test"]]
    assert "Acme Mills" in mailoutbox[0].subject
    assert b"Check your email" in browser.get("/accounts/password-reset/sent/").content


def test_password_reset_link_sets_a_new_password(db, world, mailoutbox):
    browser = Client(HTTP_HOST="acme.localhost")
    browser.post("/accounts/password-reset/", {"email": "engineer@acme.test"})
    link = re.search(r"https?://acme\.localhost(?::\d+)?(/accounts/password-reset/\S+/)", mailoutbox[0].body)
    assert link, mailoutbox[0].body
    form = browser.get(link.group(1), follow=True)
    assert b"Choose a new password" in form.content
    new = "Another-Long-Passphrase-7"
    done = browser.post(form.redirect_chain[-1][0], {"new_password1": new, "new_password2": new}, follow=True)
    assert b"Password changed" in done.content
    assert User.objects.get(email="engineer@acme.test").check_password(new)


@override_settings(SITE_URL="https://localhost:8443")
def test_password_reset_link_ignores_a_forged_host_header(db, world, mailoutbox):
    # Host names the right tenant (so the request is routed) with the attacker's port; a proxy
    # header names the attacker's host. The mail links to the configured address all the same.
    forged = Client(HTTP_HOST="acme.localhost:6666", HTTP_X_FORWARDED_HOST="evil.test")
    assert forged.post("/accounts/password-reset/", {"email": "engineer@acme.test"}).status_code == 302
    links = re.findall(r"\S+://\S+", mailoutbox[0].body)
    assert len(links) == 1 and links[0].startswith("https://acme.localhost:8443/accounts/password-reset/")


def _invite(world, email: str, role: str = Role.ENGINEER):
    actor = Actor(tenant_id=world.acme.id, role=Role.ADMIN, user_id=world.admin.id)
    return invitation_create(actor=actor, email=email, role=role)


def test_invitation_page_shows_organization_and_role_and_joins(db, world):
    issued = _invite(world, "new@acme.test")
    browser = Client(HTTP_HOST="acme.localhost")
    page = browser.get(f"/accounts/invitations/{issued.token}/")
    assert page.status_code == 200
    assert b"Join Acme Mills" in page.content and b"Engineer" in page.content and b"new@acme.test" in page.content
    joined = browser.post(f"/accounts/invitations/{issued.token}/",
                          {"full_name": "New Person", "password": "A-Fine-Passphrase-99"})
    assert joined.status_code == 302 and joined["Location"] == "/"
    assert Membership.objects.get(user__email="new@acme.test", tenant=world.acme).role == Role.ENGINEER
    again = browser.get(f"/accounts/invitations/{issued.token}/")
    assert again.status_code == 410 and b"not valid" in again.content


def test_invitation_of_one_tenant_is_not_valid_on_another_host(db, world):
    issued = _invite(world, "new2@acme.test")
    page = Client(HTTP_HOST="globex.localhost").get(f"/accounts/invitations/{issued.token}/")
    assert page.status_code == 410
    posted = Client(HTTP_HOST="globex.localhost").post(f"/accounts/invitations/{issued.token}/",
                                                       {"password": "A-Fine-Passphrase-99"})
    assert posted.status_code == 410 and not User.objects.filter(email="new2@acme.test").exists()


# --- the public host's sign-in and the landing page's prices ----------------------------------
SIGN_IN_MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # when the throttled requests are made


def test_landing_offers_sign_in_and_the_overage_price_billing_charges(db, world):
    from decimal import Decimal

    from billing.models import Plan

    # Changed here, shown there: the page reads the plan, it does not keep a copy of the price.
    Plan.objects.filter(code="starter").update(overage_cents_per_prediction=Decimal("7.5"))
    html = Client(HTTP_HOST="localhost").get("/").content.decode()
    assert 'href="/login/"' in html and ">Sign in<" in html
    starter = html[html.index("<h3>Starter</h3>"):html.index("<h3>Growth</h3>")]
    assert "10,000 predictions / month" in starter and "then $0.075 per prediction beyond that" in starter
    trial = html[html.index("<h3>Free trial</h3>"):html.index("<h3>Starter</h3>")]
    assert "No overage" in trial


@pytest.mark.parametrize("path", ["/login/", "/accounts/login/"])
def test_the_public_hosts_login_paths_ask_for_the_organization(db, world, path):
    page = Client(HTTP_HOST="localhost").get(path)
    assert page.status_code == 200
    assert b"Your organization&#x27;s address" in page.content or b"Your organization's address" in page.content
    _no_external_assets(page.content.decode())


@pytest.mark.parametrize("address", ["acme", " ACME ", "acme.localhost", "http://acme.localhost:8000/accounts/login/"])
def test_sign_in_sends_the_browser_to_its_organizations_sign_in_page(db, world, address):
    # A browser on port 8010 stays on it, whatever port the server behind the proxy listens on.
    answer = Client(HTTP_HOST="localhost:8010").post("/login/", {"action": "find", "address": address},
                                                     SERVER_PORT="8001")
    assert answer.status_code == 302 and answer["Location"] == "http://acme.localhost:8010/accounts/login/"


@pytest.mark.parametrize("address", ["nope", "public", "localhost", "evil.test", "", "http://"])
def test_sign_in_refuses_an_address_that_is_no_organization(db, world, address):
    answer = Client(HTTP_HOST="localhost").post("/login/", {"action": "find", "address": address})
    assert answer.status_code == 400 and "Location" not in answer


def test_sign_in_does_not_send_anyone_to_a_deactivated_organization(db, world):
    from tenants.services import tenant_deactivate

    tenant_deactivate(tenant=world.globex)
    answer = Client(HTTP_HOST="localhost").post("/login/", {"action": "find", "address": "globex"})
    assert answer.status_code == 400 and b"No organization has this address" in answer.content


def test_sign_in_links_go_to_members_only_and_the_answer_never_tells(db, world, mailoutbox):
    browser = Client(HTTP_HOST="localhost")
    answers = [browser.post("/login/", {"action": "mail", "email": email})
               for email in ("nobody@nowhere.test", "outsider@nowhere.test", "Owner@Globex.test")]
    assert {(a.status_code, a["Location"]) for a in answers} == {(302, "/login/")}
    assert [m.to for m in mailoutbox] == [["Owner@Globex.test".lower()]]
    assert re.findall(r"\S+://\S+", mailoutbox[0].body) == ["http://globex.localhost:8000/accounts/login/"]
    assert "acme" not in mailoutbox[0].body  # only the organizations of that address


def test_sign_in_links_are_throttled_per_email(db, world, mailoutbox):
    from django.core.cache import cache

    cache.clear()
    with time_machine.travel(SIGN_IN_MONDAY, tick=False):
        browser = Client(HTTP_HOST="localhost")
        codes = [browser.post("/login/", {"action": "mail", "email": "owner@acme.test"}).status_code
                 for _ in range(6)]
    assert codes == [302] * 5 + [400]
    assert len(mailoutbox) == 5
