"""Throttling of credential guessing (accounts/lockout.py): sign-in, password-reset requests and
API keys, per account and per client address, with a clear message and 429."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import Client

from accounts.services import api_key_create

from .conftest import PASSWORD

NOON = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)  # start of a 15-minute window


def _login(email: str, password: str, address: str = "203.0.113.7") -> tuple[int, str]:
    response = Client(HTTP_HOST="acme.localhost", REMOTE_ADDR=address).post(
        "/accounts/login/", {"username": email, "password": password})
    return response.status_code, response.content.decode()


def _signed_in(result: tuple[int, str]) -> bool:
    return result[0] == 302


def test_the_41st_attempt_is_refused_even_with_the_right_password(db, world):
    with time_machine.travel(NOON, tick=False):
        answers = [_login("engineer@acme.test", f"guess-{n}")[0] for n in range(40)]
        status, page = _login("engineer@acme.test", PASSWORD)
    assert answers[:10] == [200] * 10  # wrong password, shown on the form
    assert set(answers[10:]) == {429}
    assert status == 429 and "Too many attempts; try again in 15 minutes." in page


def test_the_account_is_throttled_from_another_address_and_other_accounts_are_not(db, world):
    with time_machine.travel(NOON, tick=False):
        for n in range(10):
            _login("engineer@acme.test", f"guess-{n}", address="203.0.113.7")
        assert _login("engineer@acme.test", PASSWORD, address="198.51.100.9")[0] == 429
        assert _signed_in(_login("viewer@acme.test", PASSWORD, address="203.0.113.7"))


def test_the_window_expires(db, world):
    with time_machine.travel(NOON, tick=False) as clock:
        for n in range(10):
            _login("engineer@acme.test", f"guess-{n}")
        clock.shift(dt.timedelta(minutes=14))
        status, page = _login("engineer@acme.test", PASSWORD)
        assert status == 429 and "try again in 1 minute." in page
        clock.shift(dt.timedelta(minutes=1))
        assert _signed_in(_login("engineer@acme.test", PASSWORD))


def test_a_success_does_not_reset_the_address_counter_for_other_accounts(db, world, settings):
    settings.LOCKOUT_RULES = {**settings.LOCKOUT_RULES, "login": {"account": (10, 900), "address": (6, 900)}}
    with time_machine.travel(NOON, tick=False):
        for email in ("owner@acme.test", "admin@acme.test", "engineer@acme.test"):
            _login(email, "wrong-1")
            _login(email, "wrong-2")
        # Six failures from this address; the guesser signs in to an account of their own...
        assert _login("viewer@acme.test", PASSWORD)[0] == 429
        assert _signed_in(_login("viewer@acme.test", PASSWORD, address="192.0.2.1"))
        # ...and the address stays throttled for everyone, while the viewer's own count is clear.
        assert _login("owner@acme.test", PASSWORD)[0] == 429


def test_a_success_forgives_that_accounts_failures(db, world):
    with time_machine.travel(NOON, tick=False):
        for n in range(9):
            _login("engineer@acme.test", f"guess-{n}")
        assert _signed_in(_login("engineer@acme.test", PASSWORD))
        for n in range(9):
            assert _login("engineer@acme.test", f"again-{n}")[0] == 200


def test_password_reset_requests_are_throttled(db, world, mailoutbox):
    browser = Client(HTTP_HOST="acme.localhost", REMOTE_ADDR="203.0.113.7")
    with time_machine.travel(NOON, tick=False):
        answers = [browser.post("/accounts/password-reset/", {"email": "engineer@acme.test"}).status_code
                   for _ in range(6)]
        other = Client(HTTP_HOST="acme.localhost", REMOTE_ADDR="198.51.100.9")
        refused = other.post("/accounts/password-reset/", {"email": "engineer@acme.test"})
        assert other.post("/accounts/password-reset/", {"email": "viewer@acme.test"}).status_code == 302
    assert answers == [302] * 5 + [429]
    assert refused.status_code == 429 and "Too many attempts; try again in 60 minutes." in refused.content.decode()
    assert len(mailoutbox) == 6  # five for the engineer, one for the viewer


def _me(raw: str, address: str) -> Client:
    return Client(HTTP_HOST="localhost", REMOTE_ADDR=address, HTTP_AUTHORIZATION=f"Bearer {raw}")


def test_guessed_api_keys_are_throttled_per_address(db, world):
    real = api_key_create(tenant=world.acme, name="ci", scopes=["read"], created_by_id=None).raw
    prefix = real.split("_")[1]
    with time_machine.travel(NOON, tick=False) as clock:
        guesses = [_me(f"pdm_{prefix}_{'x' * 42}{n % 10}", "203.0.113.7").get("/api/v1/me/") for n in range(20)]
        assert {g.status_code for g in guesses} == {401}
        refused = _me(real, "203.0.113.7").get("/api/v1/me/")
        assert refused.status_code == 429 and refused.json()["error"]["code"] == "throttled"
        assert refused.json()["error"]["message"] == "Too many attempts; try again in 10 minutes."
        assert int(refused["Retry-After"]) == 600
        # Another address, and the key's own clients, are not punished for the guesser.
        assert _me(real, "198.51.100.9").get("/api/v1/me/").status_code == 200
        clock.shift(dt.timedelta(minutes=10))
        assert _me(real, "203.0.113.7").get("/api/v1/me/").status_code == 200


def test_a_revoked_key_retried_is_not_counted_as_guessing(db, world):
    from accounts.services import api_key_revoke

    issued = api_key_create(tenant=world.acme, name="old", scopes=["read"], created_by_id=None)
    api_key_revoke(tenant_id=world.acme.id, key_id=issued.key.id)
    with time_machine.travel(NOON, tick=False):
        answers = {_me(issued.raw, "203.0.113.7").get("/api/v1/me/").status_code for _ in range(25)}
    assert answers == {401}


# What X-Forwarded-For ends with when it reaches Django: our proxy (docker/haproxy) appends the
# address it was reached from; behind a TLS proxy that is the TLS proxy's, which appended the
# client's before it.
PROXY_CHAINS = {1: "{client}", 2: "{client}, 10.0.0.9"}


@pytest.mark.parametrize("hops", sorted(PROXY_CHAINS))
def test_behind_the_proxies_the_forwarded_client_is_counted_not_a_forged_entry(db, world, settings, hops):
    settings.PROXY_HOPS = hops

    def login(client: str, password: str, forged: str = "") -> int:
        chain = (forged + ", " if forged else "") + PROXY_CHAINS[hops].format(client=client)
        return Client(HTTP_HOST="acme.localhost", REMOTE_ADDR="10.0.0.2",  # our proxy
                      HTTP_X_FORWARDED_FOR=chain).post(
            "/accounts/login/", {"username": f"nobody{password}@acme.test", "password": password}).status_code

    with time_machine.travel(NOON, tick=False):
        # A guesser rotating a forged first entry is still one client: the proxies' entries are last.
        answers = [login("203.0.113.7", f"p{n}", forged=f"192.0.2.{n}") for n in range(51)]
        assert answers[:50] == [200] * 50 and answers[50] == 429
        assert login("198.51.100.9", "p99") == 200  # another client behind the same proxies


def test_a_request_that_reached_the_server_directly_counts_the_connection(settings):
    from accounts.lockout import address_of

    settings.PROXY_HOPS = 2
    assert address_of(direct="203.0.113.7", forwarded_for="") == "203.0.113.7"
    # Fewer entries than proxies: the first is the one the nearest proxy wrote.
    assert address_of(direct="10.0.0.2", forwarded_for="198.51.100.9") == "198.51.100.9"
