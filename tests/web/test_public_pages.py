"""Public pages: landing and signup on the public host; login, logout, password reset and
invitation acceptance on a tenant host."""

from __future__ import annotations

import re

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
    assert done.status_code == 302 and done["Location"] == "http://initech.localhost/accounts/login/"
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


@override_settings(URL_SCHEME="https", URL_PORT="8443")
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
