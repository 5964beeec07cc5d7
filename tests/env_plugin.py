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
os.environ["REDIS_URL"] = _redis_db(_base, 10)
os.environ["CHANNELS_REDIS_URL"] = _redis_db(_base, 11)
os.environ["CACHE_REDIS_URL"] = _redis_db(_base, 12)
os.environ.setdefault("DJANGO_PASSWORD_HASHERS", "django.contrib.auth.hashers.MD5PasswordHasher")
os.environ.setdefault("PDM_SIGNUP_RATE", "10000/minute")
os.environ.setdefault("PDM_DATA_DIR", tempfile.mkdtemp(prefix="pdm-test-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pdm_saas.settings")
