"""Loaded with `-p tests.env_plugin` before pytest-django reads the settings: points the test
run at its own Redis databases and data folder so that it never touches a running dev server's
queues, and uses a fast password hasher (hashing strength is not under test)."""

from __future__ import annotations

import os
import tempfile
from urllib.parse import urlparse, urlunparse


def _redis_db(url: str, db: int) -> str:
    return urlunparse(urlparse(url)._replace(path=f"/{db}"))


_base = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
# Two test runs at once (say, two people on one machine) must not share Redis databases, or one
# run's worker takes the other's tasks: PDM_TEST_REDIS_DBS picks another three (0-15).
_broker, _channels, _cache = (int(n) for n in os.environ.get("PDM_TEST_REDIS_DBS", "10,11,12").split(","))
os.environ["REDIS_URL"] = _redis_db(_base, _broker)
os.environ["CHANNELS_REDIS_URL"] = _redis_db(_base, _channels)
os.environ["CACHE_REDIS_URL"] = _redis_db(_base, _cache)
os.environ.setdefault("DJANGO_PASSWORD_HASHERS", "django.contrib.auth.hashers.MD5PasswordHasher")
os.environ.setdefault("PDM_SIGNUP_RATE", "10000/minute")
# The shared world is on the trial plan (3 machines, 1,000 predictions, 60 requests a minute per
# key), which suites that create fleets or hammer the API would exceed. Billing's own tests turn
# the limits on with override_settings.
os.environ.setdefault("PDM_QUOTAS_ENABLED", "false")
os.environ.setdefault("PDM_RATE_LIMITS_ENABLED", "false")
# Real-data training searches for 5 minutes by default; tests search with 4 candidates (the two
# libraries' defaults and two proposals), which exercises every step of the search.
os.environ.setdefault("PDM_MODEL_SEARCH_MAX_TRIALS", "4")
# The suite runs the development configuration (DEBUG is off unless switched on): http links on
# port 8000 and cookies over plain HTTP for the browser tests. pytest-django still turns DEBUG off
# while tests run; tests/test_security_headers.py checks the production defaults in a clean process.
os.environ.setdefault("DJANGO_DEBUG", "true")
os.environ.setdefault("PDM_DATA_DIR", tempfile.mkdtemp(prefix="pdm-test-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pdm_saas.settings")
