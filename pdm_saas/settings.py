"""The one settings module. Every value comes from the environment, with defaults that work on a
development machine with nothing configured (local Postgres and Redis on 127.0.0.1).

`docker/.env.example` names every variable read here.

Longer than 400 lines because it is the one settings module (STYLE.md): every setting, with
the environment variable it reads and why its default is what it is.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import dj_database_url
from kombu import Queue

from pdm_saas.envconf import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

# --- Core -------------------------------------------------------------------------------------
# The development key is public on purpose; the deploy system checks refuse it when DEBUG is off.
DEV_SECRET_KEY = "dev-insecure-key-change-me"
SECRET_KEY = env_str("DJANGO_SECRET_KEY", DEV_SECRET_KEY)
DEBUG = env_bool("DJANGO_DEBUG", False)  # development commands switch it on (Makefile, Procfile.dev)
# Browser traffic reaches a tenant at <slug>.<PDM_BASE_DOMAIN>; `localhost` makes
# acme.localhost:8000 work in development without touching /etc/hosts.
BASE_DOMAIN = env_str("PDM_BASE_DOMAIN", "localhost")
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", [BASE_DOMAIN, f".{BASE_DOMAIN}", "127.0.0.1"])
# The site's public address, scheme and port included (no path): every absolute link we build
# (invitations, password resets, weekly summaries, Stripe's return pages, signup's answer) is
# this address with the tenant's host, <scheme>://<slug>.<base domain>[:port] (tenants/schema_names.py),
# never the Host of a request. Development: http://localhost:8000; `make run PORT=8010` passes
# its own. A system check (pdm_saas/checks.py) refuses an address whose host is not BASE_DOMAIN.
# Redirects inside a request (signup to the new tenant's host) keep the browser's own port.
SITE_URL = env_str("PDM_SITE_URL", f"http://{BASE_DOMAIN}:8000" if DEBUG else f"https://{BASE_DOMAIN}").rstrip("/")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])
SECURE_COOKIES = env_bool("DJANGO_SECURE_COOKIES", not DEBUG)
SESSION_COOKIE_SECURE = SECURE_COOKIES
# Behind a TLS-terminating proxy, trust its X-Forwarded-Proto so Django knows the request is HTTPS.
if env_bool("DJANGO_BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
CSRF_COOKIE_SECURE = SECURE_COOKIES
DATA_DIR = Path(env_str("PDM_DATA_DIR", str(BASE_DIR / ".data")))

# --- Tenancy (django-tenants) -----------------------------------------------------------------
# Tables of SHARED_APPS live once, in the `public` schema: who the tenants are, who the users
# are, what they may do and what they pay.
SHARED_APPS = (
    "django_tenants",  # must come first
    "daphne",  # its runserver serves HTTP and WebSockets in development
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from our static files, no CDN
    "channels",
    "tenants",
    "accounts",
    "billing",
    # No tables: the project package itself, for what spans every app (the `demo_seed` command,
    # pdm_saas/demo.py, seeds them all) and the system checks (pdm_saas/checks.py).
    "pdm_saas",
)
# Tables of TENANT_APPS exist once per tenant schema: the tenant's own operational data.
TENANT_APPS = (
    "django.contrib.contenttypes",
    "jobs",
    "machines",
    "predictions",
    "maintenance",  # acting on predictions: alerts, work orders, webhooks (docs/alerts.md)
    "planning",  # prescriptive maintenance: technicians, parts, plans (docs/planning.md)
    "insights",  # KPI pages and the weekly summary email (docs/insights.md)
)
INSTALLED_APPS = list(SHARED_APPS) + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "tenants.Tenant"
TENANT_DOMAIN_MODEL = "tenants.Domain"
# New tenants are cloned from this fully migrated schema instead of running every migration
# (see tenants/provisioning.py); `manage.py platform_migrate` keeps it current.
TENANT_TEMPLATE_SCHEMA = "tenant_template"
# Schemas cloned ahead of time so that signup only renames one (tenants/provisioning.py).
TENANT_SPARE_SCHEMAS = env_int("PDM_SPARE_SCHEMAS", 5)
PUBLIC_SCHEMA_URLCONF = "pdm_saas.urls_public"
ROOT_URLCONF = "pdm_saas.urls_tenant"
DATABASE_ROUTERS = ("django_tenants.routers.TenantSyncRouter",)
# Slugs that would collide with our own hosts or confuse users.
RESERVED_SLUGS = frozenset(
    {"www", "api", "admin", "app", "public", "static", "media", "mail", "docs", "status",
     "billing", "help", "support", "demo-template", "tenant-template", "localhost"}
)

MIDDLEWARE = [
    "pdm_saas.request_scope.RequestScopeMiddleware",  # the request's scope, for per-process caches
    "tenants.middleware.TenantRoutingMiddleware",  # everything below runs in the tenant
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "pdm_saas.web_access.web_context",
            ],
            # Template tags that belong to no one app: `{% load relative_time %}`.
            "libraries": {"relative_time": "pdm_saas.relative_time"},
        },
    },
]

WSGI_APPLICATION = "pdm_saas.wsgi.application"
ASGI_APPLICATION = "pdm_saas.asgi.application"

# --- Database ---------------------------------------------------------------------------------
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/pdm_saas"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        # A kept connection is checked before a request reuses it, so a Postgres restart costs
        # one reconnect, not one failed request per web thread.
        conn_health_checks=True,
        engine="django_tenants.postgresql_backend",
    )
}
# One test database per checkout, so two clones (say, CI's and a developer's) never share one.
DATABASES["default"]["TEST"] = {
    "NAME": env_str(
        "DATABASE_TEST_NAME",
        f"test_{DATABASES['default']['NAME']}_{hashlib.sha1(str(BASE_DIR).encode()).hexdigest()[:8]}",
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# django-tenants sends `SET search_path` before every query unless told to remember what it set:
# half of a prediction's round trips were these. Safe with the backend we run: switching tenant
# or schema, closing the connection, and a rollback (whole or to a savepoint, which undo a SET in
# PostgreSQL) all make it send the SET again before the next query.
TENANT_LIMIT_SET_CALLS = True

# --- Redis: Celery broker, Channels layer, cache ------------------------------------------------
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
CHANNELS_REDIS_URL = env_str("CHANNELS_REDIS_URL", "redis://127.0.0.1:6379/1")
CACHE_REDIS_URL = env_str("CACHE_REDIS_URL", "redis://127.0.0.1:6379/2")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": CACHE_REDIS_URL,
        "KEY_FUNCTION": "django_tenants.cache.make_key",  # cache keys carry the schema
        "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
    },
    # The row caches' tokens (tenants/row_cache.py): keys name their schema themselves, so that
    # reading one never depends on the schema the connection happens to be on.
    "rows": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": CACHE_REDIS_URL,
        "KEY_PREFIX": "pdm-rows",
    },
}
# The pub/sub layer, not channels_redis' default list layer: there, every socket of a process
# shares one BZPOPMIN, and when a closing socket's receive is cancelled mid-wait, a message
# Redis already popped for another socket is lost (django/channels_redis#366; our test of a
# revoked key's socket beside a kept one lost the kept socket's event about one run in ten).
# Pub/sub delivers through one reader task per process that no socket's close cancels. Live
# events are best effort either way: a client that reconnects replays or resyncs (live/replay.py).
# redis-py 8 gives every connection a 5 s read timeout by default; 30 s outlasts any wait of
# ours, and a dead Redis is still noticed within it and by TCP keepalive.
CHANNELS_SOCKET_TIMEOUT = 30
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": [{"address": CHANNELS_REDIS_URL, "socket_timeout": CHANNELS_SOCKET_TIMEOUT,
                              "socket_keepalive": True}]},
    }
}

# --- Celery -----------------------------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None  # results live in Job rows, not in Redis
CELERY_TASK_DEFAULT_QUEUE = "default"
# Named queues so that heavy ML work never waits behind (or starves) ingest and notifications.
JOB_QUEUES = ("ingest", "synth", "train", "score", "notify", "default")
CELERY_TASK_QUEUES = [Queue(name) for name in JOB_QUEUES]
# The model search of real-data training (docs/models.md): its time budget and most trials.
MODEL_SEARCH_BUDGET_S = float(env_int("PDM_MODEL_SEARCH_BUDGET_S", 300))
MODEL_SEARCH_MAX_TRIALS = env_int("PDM_MODEL_SEARCH_MAX_TRIALS", 60)
# Helper tasks a search sends to other `train` processes ("auto": one per process the workers
# report, at most 3; 0: the job trains every candidate itself). Never changes the result.
MODEL_SEARCH_HELPERS = env_str("PDM_MODEL_SEARCH_HELPERS", "auto")
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 30 * 60)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 35 * 60)
CELERY_TASK_ACKS_LATE = True  # a worker killed mid-task leaves the message for another worker
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
# Minutes between scheduled fleet scoring runs (each tenant, each machine's latest window); 1-59.
FLEET_SCORE_MINUTES = env_int("PDM_FLEET_SCORE_MINUTES", 15)
# Days between scheduled drift checks and outcome snapshots of every champion classifier
# (docs/models.md, "Drift and outcomes"); the recent window compared is as long.
DRIFT_CHECK_DAYS = env_int("PDM_DRIFT_CHECK_DAYS", 7)
# Share of features that must drift (PSI > 0.2 or KS p < 0.01) for a report to say "drifted".
DRIFT_THRESHOLD = float(env_str("PDM_DRIFT_THRESHOLD", "0.10"))
# Champion / challenger (docs/models.md, "Champion and challenger"): the relative margin a
# challenger must beat (or lose to) the champion by on live F1 or false-positive rate, the resolved
# outcomes each needs first, the longest shadow before a challenger without a clear win is
# rejected, and the fall of live F1 below held-out F1 that rolls a champion back.
CHALLENGER_MARGIN = float(env_str("PDM_CHALLENGER_MARGIN", "0.10"))
CHALLENGER_MIN_OUTCOMES = env_int("PDM_CHALLENGER_MIN_OUTCOMES", 5)
CHALLENGER_MAX_SHADOW_DAYS = env_int("PDM_CHALLENGER_MAX_SHADOW_DAYS", 28)
ROLLBACK_DROP = float(env_str("PDM_ROLLBACK_DROP", "0.2"))
# Share of a type's machines (0-1) a new challenger serves instead of shadowing them, chosen by a
# hash of machine and challenger ids; 0 = shadow only (docs/models.md, "Champion and challenger").
CHALLENGER_TRAFFIC = float(env_str("PDM_CHALLENGER_TRAFFIC", "0"))
# The weekday beat emails each tenant's weekly summary (0 = Monday ... 6 = Sunday; docs/insights.md).
WEEKLY_SUMMARY_WEEKDAY = env_int("PDM_WEEKLY_SUMMARY_WEEKDAY", 0)
# Jobs whose worker died (docs/jobs.md): a running job writes a heartbeat every
# JOB_HEARTBEAT_SECONDS from a thread of its own; beat sweeps every JOB_SWEEP_SECONDS, and a job
# whose heartbeat is older than JOB_STALE_AFTER_SECONDS is requeued or failed (per kind,
# jobs/kinds.py). Worst case from the kill to the recovery: stale-after + sweep = 105 s.
JOB_HEARTBEAT_SECONDS = env_int("JOB_HEARTBEAT_SECONDS", 15)
JOB_STALE_AFTER_SECONDS = env_int("JOB_STALE_AFTER_SECONDS", 75)
JOB_SWEEP_SECONDS = env_int("JOB_SWEEP_SECONDS", 30)
# With acks_late, Redis hands a message whose worker died to another worker only after the
# visibility timeout (kombu's default: 1 h; that is why a restarted worker did not pick up a
# killed upload). It must outlast the longest time a *healthy* worker holds a message, or Redis
# would give a running task (or a webhook retry waiting out its countdown of up to 1 h) to a
# second worker: so it cannot be short, and fast recovery is the sweeper's job. This is the
# backstop for a message whose worker died before claiming its job; duplicates are harmless
# (`job_claim`).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600 + CELERY_TASK_TIME_LIMIT + 5 * 60),
}

# --- MQTT (docs/ingest.md, "MQTT") -------------------------------------------------------------
# The broker the bridge (`manage.py mqtt_bridge`) subscribes to, and the user it logs in as.
PDM_MQTT_HOST = env_str("PDM_MQTT_HOST", "127.0.0.1")
PDM_MQTT_PORT = env_int("PDM_MQTT_PORT", 1883)
PDM_MQTT_BRIDGE_USER = env_str("PDM_MQTT_BRIDGE_USER", "pdm-bridge")
PDM_MQTT_BRIDGE_PASSWORD = env_str("PDM_MQTT_BRIDGE_PASSWORD", "")  # empty: the bridge refuses to start
# Where `manage.py mqtt_sync` writes Mosquitto's password_file and acl_file.
PDM_MQTT_PASSWORD_FILE = env_str("PDM_MQTT_PASSWORD_FILE", str(DATA_DIR / "mqtt" / "passwords"))
PDM_MQTT_ACL_FILE = env_str("PDM_MQTT_ACL_FILE", str(DATA_DIR / "mqtt" / "acl"))

# Largest sensor file accepted (streamed to disk, processed in constant memory).
PDM_MAX_UPLOAD_BYTES = env_int("PDM_MAX_UPLOAD_BYTES", 5 * 1024**3)
# Uploads bigger than this go straight to a temporary file instead of memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024**2
DATA_UPLOAD_MAX_MEMORY_SIZE = 20 * 1024**2  # form fields and JSON bodies (a 10,000-reading batch fits)
# Photos on work orders and alerts (maintenance/photos.py): the largest file accepted, the most
# pixels decoded (a decompression bomb is refused before decoding: 60 MP holds a 48 MP phone
# camera), and the long side of the thumbnails.
PDM_PHOTO_MAX_BYTES = env_int("PDM_PHOTO_MAX_BYTES", 15 * 1024**2)
PDM_PHOTO_MAX_PIXELS = env_int("PDM_PHOTO_MAX_PIXELS", 60_000_000)
PDM_PHOTO_THUMB_PX = env_int("PDM_PHOTO_THUMB_PX", 320)

# --- Stripe (docs/billing.md) --------------------------------------------------------------------
# Every Stripe call goes through billing/stripe_gateway.py. Empty key: billing pages still show
# plans and usage, but checkout and the portal answer "not set up" (development default).
STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY", "")
# The signing secret of the webhook endpoint (https://<base domain>/stripe/webhook/).
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET", "")
# Where the library sends requests; tests point it at a local double (tests/stripe_double.py).
STRIPE_API_BASE = env_str("STRIPE_API_BASE", "https://api.stripe.com")
# The `event_name` of the Stripe meter that counts predictions beyond a plan's included amount.
STRIPE_METER_EVENT_NAME = env_str("STRIPE_METER_EVENT_NAME", "pdm_predictions")
# Minutes between two usage reports to Stripe (beat; each tenant with overage, one meter event).
STRIPE_USAGE_REPORT_MINUTES = env_int("STRIPE_USAGE_REPORT_MINUTES", 60)

# --- Auth -------------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_HASHERS = env_list(
    "DJANGO_PASSWORD_HASHERS",
    [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    ],
)
INVITATION_TTL_DAYS = env_int("PDM_INVITATION_TTL_DAYS", 7)
# last_used_at on an API key is written at most this often, so busy clients don't turn every
# request into a write.
API_KEY_TOUCH_SECONDS = env_int("PDM_API_KEY_TOUCH_SECONDS", 60)

# --- Billing limits (docs/billing.md, "Quotas and rate limits") --------------------------------
# Plan quotas: machines per plan, predictions per period on plans without overage. Off only for
# installs that bill nobody (usage is still counted).
BILLING_QUOTAS_ENABLED = env_bool("PDM_QUOTAS_ENABLED", True)
# Requests per minute per API key, by plan (Plan.requests_per_minute); browsers are not limited.
BILLING_RATE_LIMITS_ENABLED = env_bool("PDM_RATE_LIMITS_ENABLED", True)
# Days a past_due subscription keeps writing before the organization becomes read-only.
BILLING_GRACE_DAYS = env_int("PDM_BILLING_GRACE_DAYS", 7)

# --- API --------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "pdm_saas.api.pagination.StandardPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
        "rest_framework.filters.SearchFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "pdm_saas.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "PDM SaaS API",
    "DESCRIPTION": (
        "Predictive maintenance API. Authenticate with `Authorization: Bearer <api key>`; "
        "the key selects the tenant, whatever the host."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
}

# Alerts in one alarm-history export at most (maintenance/alarm_export.py): CSV streams, 100,000
# rows in about a second; a workbook is built whole before a byte is sent, 20,000 rows in about 8 s.
ALARM_EXPORT_MAX_ROWS = {"csv": 100_000, "xlsx": 20_000}

# --- Email --------------------------------------------------------------------------------------
EMAIL_BACKEND = env_str("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DJANGO_DEFAULT_FROM_EMAIL", "PDM SaaS <no-reply@localhost>")
EMAIL_HOST = env_str("DJANGO_EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("DJANGO_EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("DJANGO_EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("DJANGO_EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("DJANGO_EMAIL_USE_TLS", False)

# --- Static and tenant files ------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("DJANGO_STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Every tenant file lives under MEDIA_ROOT/tenants/<schema>/; see tenants/storage.py.
MEDIA_ROOT = Path(env_str("DJANGO_MEDIA_ROOT", str(DATA_DIR / "media")))

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {"signup": env_str("PDM_SIGNUP_RATE", "30/hour")}
SPECTACULAR_SETTINGS.update(
    {"SWAGGER_UI_DIST": "SIDECAR", "SWAGGER_UI_FAVICON_HREF": "SIDECAR", "REDOC_DIST": "SIDECAR"}
)

# --- Monitoring (docs/monitoring.md) ---------------------------------------------------------------
# Request metrics (django-prometheus): "before" right after tenant routing, which stays first
# after the request scope; "after" last.
MIDDLEWARE.insert(MIDDLEWARE.index("tenants.middleware.TenantRoutingMiddleware") + 1,
                  "pdm_saas.monitoring.web.RequestMetricsBeforeMiddleware")
MIDDLEWARE.append("pdm_saas.monitoring.web.RequestMetricsAfterMiddleware")
# Bearer token Prometheus must send to /metrics; empty: only loopback/private clients reached directly.
PDM_METRICS_TOKEN = env_str("PDM_METRICS_TOKEN", "")
# Port of a Celery worker's own metrics server (0: none); prefork also needs PROMETHEUS_MULTIPROC_DIR.
PDM_WORKER_METRICS_PORT = env_int("PDM_WORKER_METRICS_PORT", 0)
# Port of Celery beat's metrics server (0: none).
PDM_BEAT_METRICS_PORT = env_int("PDM_BEAT_METRICS_PORT", 0)
# Port of the MQTT bridge's metrics server (messages received and rejected, rows stored; 0: none).
PDM_BRIDGE_METRICS_PORT = env_int("PDM_BRIDGE_METRICS_PORT", 0)

# --- Web Push (maintenance/push.py; docs/deploy.md "Web Push keys") --------------------------------
# The VAPID key pair push services know this server by: the private key as base64url (32 raw bytes,
# `manage.py vapid_keys` makes one). Empty: push is off (the page says so). In development only,
# the key `make run` generates into PUSH_VAPID_DEV_KEY_FILE is used instead.
PUSH_VAPID_PRIVATE_KEY = env_str("PDM_VAPID_PRIVATE_KEY", "")
PUSH_VAPID_DEV_KEY_FILE = BASE_DIR / ".data" / "vapid_private_key"
# Who push services may contact about our traffic: a mailto: or https: URL (RFC 8292).
PUSH_VAPID_SUBJECT = env_str("PDM_VAPID_SUBJECT", f"mailto:ops@{BASE_DOMAIN if '.' in BASE_DOMAIN else 'example.com'}")
# How long a push service keeps a notification for a phone that is offline.
PUSH_TTL_SECONDS = env_int("PDM_PUSH_TTL_SECONDS", 12 * 3600)

# --- Outbound requests and response headers (docs/architecture.md "Security") --------------------
# Webhook receivers on loopback or private networks: for on-premises installs only, off by default
# (pdm_saas/outbound.py; metadata, link-local and reserved addresses stay refused regardless).
OUTBOUND_ALLOW_PRIVATE_TARGETS = env_bool("PDM_OUTBOUND_ALLOW_PRIVATE_TARGETS", False)
# A PEM file of the CAs that sign HTTPS webhook receivers' certificates (an in-house CA); empty: public CAs.
OUTBOUND_CA_BUNDLE = env_str("PDM_OUTBOUND_CA_BUNDLE", "")
# Off unless switched on: `make` targets and Procfile.dev set DJANGO_DEBUG=true, tests/env_plugin.py
# too; anything else (docker/, a bare `manage.py`) gets production behaviour and checks.
# HSTS is sent on HTTPS requests only (behind a proxy: DJANGO_BEHIND_TLS_PROXY); none in development,
# where a year-long pin would stick to the developer's browser for localhost. Tenants are subdomains.
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
# Scripts and styles from our own origin only (pdm_saas/security_headers.py adds connect-src).
# form-action also covers where a form's answer redirects: signup and sign-in move between the
# public host and the tenants' subdomains, billing goes on to Stripe's hosted pages.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:",
    "font-src 'self'", "object-src 'none'", "base-uri 'self'", "frame-ancestors 'none'",
    f"form-action 'self' {BASE_DOMAIN}:* *.{BASE_DOMAIN}:* https://checkout.stripe.com https://billing.stripe.com",
)
PERMISSIONS_POLICY = ("camera=(), microphone=(), geolocation=(), payment=(), usb=(), serial=(), bluetooth=(), "
                      "magnetometer=(), gyroscope=(), accelerometer=()")
MIDDLEWARE.insert(MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
                  "pdm_saas.security_headers.SecurityHeadersMiddleware")

# --- Throttling of credential guessing (accounts/lockout.py, docs/web.md "Access and throttling") --
# (attempts, window in seconds) per account and per client address. Sign-in and keys count
# failures; password resets count every request.
LOCKOUT_RULES = {
    "login": {"account": (env_int("PDM_LOGIN_FAILURES_PER_ACCOUNT", 10), 15 * 60),
              "address": (env_int("PDM_LOGIN_FAILURES_PER_ADDRESS", 50), 15 * 60)},
    "password_reset": {"account": (5, 60 * 60), "address": (20, 60 * 60)},
    # "Email me my sign-in links" on the public sign-in page (accounts/sign_in.py): every request counts.
    "sign_in_links": {"account": (5, 60 * 60), "address": (20, 60 * 60)},
    "api_key": {"address": (env_int("PDM_KEY_FAILURES_PER_ADDRESS", 20), 10 * 60)},
}
# Every request reaches Django through our proxy (docker/haproxy/haproxy.cfg), and behind a TLS
# proxy through that one too; each appends the address it was reached from to X-Forwarded-For.
# The client is the entry that many places from the end (accounts/lockout.py address_of).
PROXY_HOPS = env_int("PDM_PROXY_HOPS", 2 if env_bool("DJANGO_BEHIND_TLS_PROXY", False) else 1)

# --- Live channel: replay after a reconnect and access re-checks (docs/architecture.md) ----------
LIVE_REPLAY_EVENTS = env_int("PDM_LIVE_REPLAY_EVENTS", 1000)  # events kept per tenant
LIVE_REPLAY_SECONDS = env_int("PDM_LIVE_REPLAY_SECONDS", 3600)  # kept after the tenant's last event
# Backstop for access changes made outside our services (a key expiring, an account deactivated
# in the admin); changes through them close the socket at once.
LIVE_RECHECK_SECONDS = env_int("PDM_LIVE_RECHECK_SECONDS", 30)
