"""Settings: typed environment readers and the checks against dangerous production values."""

from __future__ import annotations

import pytest
from django.core.checks import WARNING, run_checks

from pdm_saas.envconf import EnvError, env_bool, env_int, env_list


def test_env_readers(monkeypatch):
    monkeypatch.setenv("X_BOOL", "yes")
    monkeypatch.setenv("X_INT", "42")
    monkeypatch.setenv("X_LIST", "a, b,,c")
    assert env_bool("X_BOOL", False) is True
    assert env_int("X_INT", 0) == 42
    assert env_list("X_LIST", []) == ["a", "b", "c"]
    assert env_int("X_MISSING", 7) == 7
    monkeypatch.setenv("X_BOOL", "maybe")
    with pytest.raises(EnvError, match="X_BOOL"):
        env_bool("X_BOOL", False)
    monkeypatch.setenv("X_INT", "forty")
    with pytest.raises(EnvError, match="X_INT must be an integer"):
        env_int("X_INT", 0)


def _ids() -> set[str]:
    return {str(message.id) for message in run_checks(include_deployment_checks=True)}


def test_deploy_checks_flag_development_defaults(settings):
    settings.DEBUG = True  # the development default (the test runner turns it off)
    ids = _ids()
    assert {"pdm.E001", "pdm.E002", "pdm.E004"} <= ids


def test_deploy_checks_pass_a_production_configuration(settings):
    settings.SECRET_KEY = "x" * 64
    settings.DEBUG = False
    settings.BASE_DOMAIN = "pdm.example.com"
    settings.SITE_URL = "https://pdm.example.com"  # links must follow the base domain (pdm.E011)
    settings.ALLOWED_HOSTS = [".pdm.example.com"]
    settings.SESSION_COOKIE_SECURE = True
    settings.PDM_METRICS_TOKEN = "m" * 40
    assert not {i for i in _ids() if i.startswith("pdm.")}
    settings.ALLOWED_HOSTS = ["*"]
    assert "pdm.E003" in _ids()


def test_production_without_a_metrics_token_is_warned(settings):
    settings.DEBUG = False
    settings.PDM_METRICS_TOKEN = ""
    (warning,) = [m for m in run_checks(include_deployment_checks=True) if m.id == "pdm.W002"]
    assert warning.level == WARNING and "private" in warning.msg and "PDM_METRICS_TOKEN" in warning.msg
    assert "pdm.W002" not in {m.id for m in run_checks()}  # a deploy check only
    settings.PDM_METRICS_TOKEN = "m" * 40
    assert "pdm.W002" not in _ids()
    settings.DEBUG, settings.PDM_METRICS_TOKEN = True, ""
    assert "pdm.W002" not in _ids()  # development: the private-only default is fine


def test_debug_off_with_the_dev_key_fails_every_command(settings):
    settings.DEBUG = False
    assert "pdm.E010" in {m.id for m in run_checks()}
