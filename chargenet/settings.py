"""ChargeNet settings: every value comes from the environment (docs/configuration.md).

With no variables at all ChargeNet runs in its embedded mode: SQLite in WAL mode and a Redis
server that `manage.py run` starts itself on a private Unix socket. `DATABASE_URL` and `REDIS_URL`
switch to PostgreSQL and an external Redis.
"""

import hashlib
import os
import tempfile
from pathlib import Path

import dj_database_url

from chargenet.env import (
    ConfigError,
    env_bool,
    env_decimal,
    env_int,
    env_list,
    env_str,
    env_time_zone,
    env_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent
# Runtime files of the embedded mode: the SQLite database, the Redis socket, collected static files.
DATA_DIR = Path(env_str("CHARGENET_DATA_DIR", str(BASE_DIR / "var"))).resolve()

DATABASE_URL = env_url("DATABASE_URL", schemes=("postgres", "postgresql", "sqlite"))
REDIS_URL_SETTING = env_url("REDIS_URL", schemes=("redis", "rediss", "unix"))
# The embedded mode: no external database configured (SQLite), so development defaults apply.
EMBEDDED = DATABASE_URL is None or DATABASE_URL.startswith("sqlite")

DEBUG = env_bool("DEBUG", EMBEDDED)
SECRET_KEY = env_str("SECRET_KEY")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["*"] if DEBUG else [])
if not DEBUG:
    if not SECRET_KEY:
        raise ConfigError("SECRET_KEY must be set when DEBUG is off")
    if not ALLOWED_HOSTS:
        raise ConfigError("ALLOWED_HOSTS must be set when DEBUG is off (comma-separated host names)")
if not SECRET_KEY:
    SECRET_KEY = "chargenet-insecure-development-key-do-not-use-in-production"
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# The operator's business time zone: "today" and "this month" on the dashboard, report dates and
# invoicing periods. Tariffs use each location's own zone.
OPERATOR_TIME_ZONE = env_time_zone("OPERATOR_TIME_ZONE", "UTC")

# Map tiles of the dashboard (any XYZ tile server); read here because the security policy names it.
MAP_TILE_URL_SETTING = env_str("MAP_TILE_URL", "https://tile.openstreetmap.org/{z}/{x}/{y}.png")
HOST = env_str("HOST", "127.0.0.1")
PORT = env_int("PORT", 8000, minimum=1, maximum=65535)
# ASGI server processes `manage.py run` starts on PORT (they share the port): one per core by default.
WEB_PROCESSES = env_int("WEB_PROCESSES", os.cpu_count() or 1, minimum=1, maximum=64)
SITE_URL = env_str("SITE_URL", f"http://{HOST}:{PORT}").rstrip("/")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "channels",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "chargenet",
    "rfid",
    "stations",
    "billing",
    "ocpi",
    "fleet",
    "smartcharging",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "chargenet.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "chargenet.middleware.ViewerTimeZoneMiddleware",
    "chargenet.middleware.UserLanguageMiddleware",
    "chargenet.middleware.NotFoundPageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "chargenet.urls"
ASGI_APPLICATION = "chargenet.asgi.application"
AUTH_USER_MODEL = "chargenet.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

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
            ],
        },
    },
]

# --- database -------------------------------------------------------------------------------
if DATABASE_URL is None:
    (DATA_DIR / "staticfiles").mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "chargenet.sqlite",
            "NAME": DATA_DIR / "chargenet.sqlite3",
            "OPTIONS": {
                # WAL lets readers run beside the one writer; IMMEDIATE takes the write lock at
                # BEGIN so two writers queue on the busy timeout instead of failing on upgrade.
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
            "TEST": {"NAME": DATA_DIR / "test.sqlite3"},
            # Keep the connection: Channels closes "old" connections around every database call, and
            # reopening SQLite (with the PRAGMAs) each time was a quarter of the OCPP server's
            # database time (docs/performance.md).
            "CONN_MAX_AGE": 600,
            "CONN_HEALTH_CHECKS": True,
        }
    }
else:
    try:
        _database = dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)
    except Exception as exc:  # dj-database-url raises several types for malformed URLs
        raise ConfigError(f"DATABASE_URL could not be parsed: {exc}") from None
    if DATABASE_URL.startswith("postgres") and env_bool("DATABASE_PREPARED_STATEMENTS", True):
        # Parameters bound by the server, and a statement a connection runs a fifth time prepared
        # there: PostgreSQL then plans it once instead of on every call, which was half of its CPU
        # in the session mix (docs/performance.md). Behind a pooler in transaction mode this
        # needs PgBouncer 1.21+ with max_prepared_statements, or this setting off.
        _database["OPTIONS"] = {
            **_database.get("OPTIONS", {}),
            "server_side_binding": True,
            "prepare_threshold": 5,
        }
    if _database.get("ENGINE") == "django.db.backends.postgresql":
        _database["ENGINE"] = "chargenet.postgresql"  # placeholders converted once per statement
    DATABASES = {"default": dict(_database)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer and Celery broker --------------------------------------------------
EMBEDDED_REDIS_SOCKET = DATA_DIR / "redis.sock"
if len(str(EMBEDDED_REDIS_SOCKET)) > 100:  # a Unix socket path is limited to 108 bytes
    EMBEDDED_REDIS_SOCKET = Path(tempfile.gettempdir()) / (
        "chargenet-" + hashlib.sha256(str(DATA_DIR).encode()).hexdigest()[:12] + ".sock"
    )
REDIS_URL = REDIS_URL_SETTING or f"unix://{EMBEDDED_REDIS_SOCKET}"
EMBEDDED_REDIS = REDIS_URL_SETTING is None


def _celery_url(url: str) -> str:
    # kombu spells a Unix-socket Redis URL as redis+socket://
    return url.replace("unix://", "redis+socket://", 1) if url.startswith("unix://") else url


# Django's cache on the same Redis: sign-in throttling and API rate limits are shared by every node.
CACHES = {
    "default": {
        "BACKEND": "chargenet.cache.RedisCache",  # Django's, keeping its clients
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "chargenet",
    }
}

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL], "capacity": 1000, "expiry": 60},
    }
}

CELERY_BROKER_URL = _celery_url(REDIS_URL)
CELERY_RESULT_BACKEND = _celery_url(REDIS_URL)
CELERY_RESULT_EXPIRES = 3600
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A task taken by a worker that dies (kill -9, a lost machine) goes back to the queue after this many
# seconds (kombu's Redis default is an hour). Tasks are idempotent, so one that runs longer than this
# and is handed to a second worker does no harm; it only costs the work twice.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 300, minimum=5)}
CELERY_TIMEZONE = "UTC"
# The outbox (chargenet.events): how often the worker sweeps for events still to dispatch, and how
# long dispatched events are kept.
EVENT_SWEEP_INTERVAL = env_int("EVENT_SWEEP_INTERVAL", 10, minimum=1)
EVENT_RETENTION_DAYS = env_int("EVENT_RETENTION_DAYS", 2, minimum=1)
CELERY_BEAT_SCHEDULE: dict = {
    "events-dispatch": {"task": "chargenet.event_dispatch_task", "schedule": float(EVENT_SWEEP_INTERVAL)},
    "events-prune": {"task": "chargenet.event_prune_task", "schedule": 3600.0},
    "webhooks-deliveries-due": {"task": "chargenet.webhook_deliveries_due_task", "schedule": 30.0},
}

# --- i18n / time ------------------------------------------------------------------------------
LANGUAGE_CODE = "en"
# The languages pages are shown in (docs/languages.md tells how to add one); the browser's choice
# unless the user picked one with the switcher in the header (a cookie).
LANGUAGES = [("en", "English"), ("sv", "Svenska"), ("uk", "Українська")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- static files -----------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "staticfiles"
# Serve straight from the source folders when nothing was collected, so the embedded mode and the
# tests need no collectstatic; production runs collectstatic and gets pre-compressed files. (No
# manifest storage: it makes every {% static %} fail until collectstatic has run.)
WHITENOISE_USE_FINDERS = True
FLEET_STORAGE_BACKEND = env_str("FLEET_STORAGE_BACKEND", "django.core.files.storage.FileSystemStorage")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
    # Firmware images and uploaded diagnostics (docs/firmware-and-diagnostics.md): local files under
    # DATA_DIR by default; any Django storage backend (an S3-compatible bucket) in production.
    "fleet": {"BACKEND": FLEET_STORAGE_BACKEND, "OPTIONS": {"location": str(DATA_DIR / "fleet")}}
    if FLEET_STORAGE_BACKEND.endswith("FileSystemStorage")
    else {"BACKEND": FLEET_STORAGE_BACKEND},
}

# --- security ---------------------------------------------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_TLS_PROXY", False) else None
# Served over HTTPS (behind the TLS proxy, DEBUG off): secure cookies, redirect plain HTTP (except
# the load balancer's health check) and HSTS for a year, subdomains included (docs/deployment.md).
HTTPS_ONLY = not DEBUG and SECURE_PROXY_SSL_HEADER is not None
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", HTTPS_ONLY)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", HTTPS_ONLY)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if HTTPS_ONLY else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
# Preloading is the domain owner's commitment (hstspreload.org), not a default: opt in with the
# variable; until then `check --deploy` is not asked to nag about it.
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
X_FRAME_OPTIONS = "DENY"


def _tile_source(url: str) -> str:
    # "https://{s}.tile.example/{z}/{x}/{y}.png" → "https://*.tile.example"
    scheme, _, rest = url.partition("://")
    host = rest.split("/", 1)[0]
    return f"{scheme}://{host.replace('{s}', '*')}" if scheme and host else ""


# Scripts only from our own files (no inline script); inline style attributes are allowed (Leaflet
# and htmx set them); map tiles from the tile server.
CONTENT_SECURITY_POLICY = env_str(
    "CONTENT_SECURITY_POLICY",
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    f"img-src 'self' data: {_tile_source(MAP_TILE_URL_SETTING)}; connect-src 'self'; "
    "object-src 'none'; base-uri 'self'; frame-ancestors 'none'",
)
# Redoc initialises itself with an inline script and runs a blob: worker.
CONTENT_SECURITY_POLICY_EXEMPT = ("/api/redoc/",)
# Brute-force throttling (chargenet/signin.py): this many failed sign-ins within the window lock the
# source address, or the account / station identity, for SIGNIN_LOCK_SECONDS.
SIGNIN_SOURCE_FAILURES = env_int("SIGNIN_SOURCE_FAILURES", 30, minimum=1)
SIGNIN_ACCOUNT_FAILURES = env_int("SIGNIN_ACCOUNT_FAILURES", 10, minimum=1)
SIGNIN_WINDOW_SECONDS = env_int("SIGNIN_WINDOW_SECONDS", 900, minimum=1)
SIGNIN_LOCK_SECONDS = env_int("SIGNIN_LOCK_SECONDS", 900, minimum=1)
# A source an account signed in from is remembered this long and never locked out for that account.
SIGNIN_KNOWN_SECONDS = env_int("SIGNIN_KNOWN_SECONDS", 30 * 86400, minimum=0)

# --- e-mail -----------------------------------------------------------------------------------
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1, maximum=65535)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "ChargeNet <noreply@localhost>")

# --- REST API ---------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "chargenet.api.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "ChargeNet API",
    "DESCRIPTION": "REST API of the ChargeNet charging station management system.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI and Redoc served from the drf-spectacular-sidecar package: the docs work offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ScheduleRuleKindEnum": "smartcharging.models.ScheduleRule.Kind",
        "ChargingProfileKindEnum": ["Absolute", "Recurring", "Relative"],
        "ConnectorStatusEnum": "stations.models.Connector.Status",
        "IdTokenStatusEnum": "rfid.models.IdToken.Status",
        "SessionStatusEnum": "stations.models.Session.Status",
        "CommandStatusEnum": "stations.models.Command.Status",
        "WebhookDeliveryStatusEnum": "chargenet.webhooks.models.WebhookDelivery.Status",
        "RegistrationStatusEnum": "stations.models.Station.RegistrationStatus",
        "InvoiceStatusEnum": "billing.models.Invoice.Status",
        "PaymentStatusEnum": "billing.models.Payment.Status",
        "CampaignStatusEnum": "fleet.models.Campaign.Status",
        "DiagnosticsKindEnum": "fleet.models.DiagnosticsRequest.Kind",
        "CampaignKindEnum": "fleet.models.Campaign.Kind",
        "CardTypeEnum": "rfid.models.IdToken.Type",
    },
}
# Requests per API key (or per user, or per address when anonymous), e.g. "600/min"; empty = no limit.
API_THROTTLE_RATE = env_str("API_THROTTLE_RATE", "600/min")
# The longest an API request may wait for a station's answer to a command (seconds).
API_COMMAND_MAX_WAIT = env_int("API_COMMAND_MAX_WAIT", 30, minimum=0, maximum=60)
WEBHOOK_TIMEOUT = env_int("WEBHOOK_TIMEOUT", 10, minimum=1, maximum=60)
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 8, minimum=1, maximum=20)
# Allow webhook URLs on loopback/private addresses (SSRF guard off); on by default only with DEBUG.
WEBHOOK_ALLOW_PRIVATE_HOSTS = env_bool("WEBHOOK_ALLOW_PRIVATE_HOSTS", DEBUG)

# --- OCPP -------------------------------------------------------------------------------------
OCPP_ALLOW_UNKNOWN_STATIONS = env_bool("OCPP_ALLOW_UNKNOWN_STATIONS", False)
OCPP_HEARTBEAT_INTERVAL = env_int("OCPP_HEARTBEAT_INTERVAL", 300, minimum=10)
OCPP_OFFLINE_GRACE = env_int("OCPP_OFFLINE_GRACE", 60, minimum=0)
OCPP_CALL_TIMEOUT = env_int("OCPP_CALL_TIMEOUT", 30, minimum=1)
OCPP_MAX_FRAME_BYTES = env_int("OCPP_MAX_FRAME_BYTES", 65536, minimum=1024)
# Group commit (stations/protocol/batch.py): how long the writes of every connection are collected
# before one commit, and the database threads for work outside it (one connection each).
OCPP_GROUP_COMMIT_MS = env_int("OCPP_GROUP_COMMIT_MS", 2, minimum=0, maximum=1000)
OCPP_DB_THREADS = env_int("OCPP_DB_THREADS", 2, minimum=1, maximum=32)
# Group-commit writers per ASGI process (each its own thread and connection; a station always on the
# same one): one commits more messages at a time, for less CPU and latency (docs/performance.md).
# 0, the former "by database" default, is one.
OCPP_WRITER_LANES = env_int("OCPP_WRITER_LANES", 1, minimum=0, maximum=32) or 1
# While more station calls than this wait for the writer, a BootNotification is answered Pending with
# a randomised interval (nothing written): a reconnect storm is paced, never refused.
OCPP_BOOT_PACING_BACKLOG = env_int("OCPP_BOOT_PACING_BACKLOG", 200, minimum=1)
# …and the stations still waiting to boot are told to come back at about this many a second per process.
OCPP_BOOT_PACING_RATE = env_int("OCPP_BOOT_PACING_RATE", 50, minimum=1)
OCPP_COMMAND_EXPIRY = env_int("OCPP_COMMAND_EXPIRY", 3600, minimum=0)
OCPP_MESSAGE_RETENTION_DAYS = env_int("OCPP_MESSAGE_RETENTION_DAYS", 30, minimum=1)
# A 2.0.1 station charging a session is sent its running cost (CostUpdated) at most once per this many
# seconds, and only when the amount changed; 0 turns CostUpdated off.
OCPP_COST_UPDATED_INTERVAL = env_int("OCPP_COST_UPDATED_INTERVAL", 60, minimum=0)
CELERY_BEAT_SCHEDULE |= {
    "stations-mark-offline": {"task": "stations.station_mark_offline_task", "schedule": 30.0},
    "stations-expire-commands": {"task": "stations.command_expire_task", "schedule": 60.0},
    "stations-prune-messages": {"task": "stations.ocpp_message_prune_task", "schedule": 3600.0},
}

# --- OCPP certificates and security profile 3 (docs/security.md) ---------------------------------
# The CA that signs the stations' certificates (SignCertificate): PEM files. Unset in the embedded
# mode: a CA is generated on first use in DATA_DIR/ca; unset in production: signing is refused.
OCPP_CA_CERT_FILE = env_str("OCPP_CA_CERT_FILE")
OCPP_CA_KEY_FILE = env_str("OCPP_CA_KEY_FILE")
# The charging station operator's name: when set, a CSR's and a client certificate's O must equal it.
OCPP_CA_ORGANIZATION = env_str("OCPP_CA_ORGANIZATION")
OCPP_CERTIFICATE_DAYS = env_int("OCPP_CERTIFICATE_DAYS", 365, minimum=1, maximum=3650)
# Warn (a security event, so an alert) this many days before an issued certificate expires.
OCPP_CERTIFICATE_EXPIRY_WARNING_DAYS = env_int("OCPP_CERTIFICATE_EXPIRY_WARNING_DAYS", 30, minimum=1)
# Dotted path of the class that answers Get15118EVCertificate and GetCertificateStatus (an
# ISO 15118 contract-certificate pool / OCSP responder); empty: answered Failed, "not configured".
OCPP_CERTIFICATE_PROVIDER = env_str("OCPP_CERTIFICATE_PROVIDER")
# Addresses of the TLS proxies whose X-SSL-Client-Verify / X-SSL-Client-S-DN headers are believed
# (security profile 3). Empty: no proxy is trusted and profile-3 stations cannot connect.
OCPP_TRUSTED_PROXIES = env_list("OCPP_TRUSTED_PROXIES", [])
CELERY_BEAT_SCHEDULE |= {
    "stations-certificate-expiry": {"task": "stations.certificate_expiry_check_task", "schedule": 86400.0},
}

# --- demo -------------------------------------------------------------------------------------
DEMO = env_bool("DEMO", EMBEDDED)
DEMO_STATIONS = env_int("DEMO_STATIONS", 3, minimum=0, maximum=100)

# --- observability (docs/configuration.md) --------------------------------------------------------
# "plain" lines for people, or "json": one JSON object per line for a log pipeline.
LOG_FORMAT = env_str("LOG_FORMAT", "plain")
if LOG_FORMAT not in ("plain", "json"):
    raise ConfigError("LOG_FORMAT must be plain or json")
# Bearer token a Prometheus scraper sends to /metrics; empty: only loopback addresses may scrape.
METRICS_TOKEN = env_str("METRICS_TOKEN")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {"()": "chargenet.logs.JsonFormatter"},
    },
    # An ordinary 403 or 404 is one line, not a traceback.
    "filters": {"client_errors_brief": {"()": "chargenet.logs.ClientErrorsBrief"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["client_errors_brief"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"daphne": {"level": "WARNING"}, "django.channels.server": {"level": "WARNING"}},
}

# --- billing (docs/billing.md) ------------------------------------------------------------------
BILLING_INVOICE_PREFIX = env_str("BILLING_INVOICE_PREFIX", "CN")
BILLING_INVOICE_PERIOD = env_str("BILLING_INVOICE_PERIOD", "monthly")
if BILLING_INVOICE_PERIOD not in ("monthly", "weekly", "daily"):
    raise ConfigError("BILLING_INVOICE_PERIOD must be monthly, weekly or daily")
BILLING_INVOICE_HOUR = env_int("BILLING_INVOICE_HOUR", 3, minimum=0, maximum=23)
# The seller printed on every invoice (an address's lines separated by "\n"); the demo has its own.
BILLING_SELLER_NAME = env_str("BILLING_SELLER_NAME", "Demo Charging Network B.V." if DEMO else "")
BILLING_SELLER_ADDRESS = env_str(
    "BILLING_SELLER_ADDRESS", "Havenstraat 1\\n1011 AA Amsterdam\\nNetherlands" if DEMO else ""
).replace("\\n", "\n")
BILLING_SELLER_VAT_ID = env_str("BILLING_SELLER_VAT_ID", "NL000099998B57" if DEMO else "")
BILLING_PAYMENT_TERMS_DAYS = env_int("BILLING_PAYMENT_TERMS_DAYS", 14, minimum=0, maximum=365)
STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY")
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET")
STRIPE_API_BASE = env_str("STRIPE_API_BASE", "https://api.stripe.com").rstrip("/")
STRIPE_WEBHOOK_TOLERANCE = env_int("STRIPE_WEBHOOK_TOLERANCE", 300, minimum=1)
from celery.schedules import crontab  # noqa: E402  (kept with the billing block to ease merging)

CELERY_BEAT_SCHEDULE |= {
    "billing-cdrs-create-missing": {"task": "billing.cdrs_create_missing_task", "schedule": 60.0},
    "billing-invoice-emails-resend": {"task": "billing.invoice_emails_resend_task", "schedule": 600.0},
}
CELERY_BEAT_SCHEDULE["billing-invoice-run"] = {
    "task": "billing.invoice_run_task",
    "schedule": crontab(
        minute=0,
        hour=BILLING_INVOICE_HOUR,
        **{"monthly": {"day_of_month": 1}, "weekly": {"day_of_week": 1}, "daily": {}}[BILLING_INVOICE_PERIOD],
    ),
}

# --- RFID / drivers -------------------------------------------------------------------------
# Accept a card that already charges on another connector (one card, several cars).
RFID_ALLOW_CONCURRENT_USE = env_bool("RFID_ALLOW_CONCURRENT_USE", False)
# Seconds to wait after a card change before sending local lists, so a burst becomes one update.
LOCAL_LIST_DEBOUNCE = env_int("LOCAL_LIST_DEBOUNCE", 10, minimum=0)
CELERY_IMPORTS = ["stations.access.local_lists"]
CELERY_BEAT_SCHEDULE |= {
    "stations-local-lists-due": {"task": "stations.local_list_syncs_due_task", "schedule": 60.0},
}
# Checked when drivers sign up or reset their password.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- operator dashboard (docs/dashboard.md) -------------------------------------------------------
# Map tiles: any XYZ tile server; the map still shows its markers when tiles cannot load.
MAP_TILE_URL = MAP_TILE_URL_SETTING
MAP_TILE_ATTRIBUTION = env_str("MAP_TILE_ATTRIBUTION", "© OpenStreetMap contributors")
# A station silent for longer than this is raised as an alert.
ALERT_OFFLINE_MINUTES = env_int("ALERT_OFFLINE_MINUTES", 15, minimum=1)
# How often the worker looks for new alerts to e-mail (offline stations have no event of their own).
ALERT_MAIL_INTERVAL = env_int("ALERT_MAIL_INTERVAL", 60, minimum=10)
CELERY_BEAT_SCHEDULE |= {
    "stations-alert-mail": {"task": "stations.alert_mail_task", "schedule": float(ALERT_MAIL_INTERVAL)}
}

# --- OCPI roaming (docs/ocpi.md) ----------------------------------------------------------------
# Who ChargeNet is towards roaming partners: the CPO's ISO 3166-1 alpha-2 country and party id.
OCPI_COUNTRY_CODE = env_str("OCPI_COUNTRY_CODE", "NL").upper()
OCPI_PARTY_ID = env_str("OCPI_PARTY_ID", "CNT").upper()
OCPI_BUSINESS_NAME = env_str("OCPI_BUSINESS_NAME", "ChargeNet")
# The external base URL partners reach (e.g. https://cpo.example.com); blank = from the request.
OCPI_BASE_URL = env_str("OCPI_BASE_URL").rstrip("/")
# Largest page a partner may ask for (X-Limit).
OCPI_PAGE_LIMIT = env_int("OCPI_PAGE_LIMIT", 100, minimum=1, maximum=1000)
# Seconds for one call to a partner; real-time authorization must answer within the station's wait.
OCPI_TIMEOUT = env_int("OCPI_TIMEOUT", 10, minimum=1, maximum=60)
OCPI_AUTHORIZE_TIMEOUT = env_int("OCPI_AUTHORIZE_TIMEOUT", 5, minimum=1, maximum=30)
# Seconds the CPO gives a station to answer a command before it reports TIMEOUT to the eMSP.
OCPI_COMMAND_TIMEOUT = env_int("OCPI_COMMAND_TIMEOUT", 30, minimum=5, maximum=600)
# Pushes to a partner that is down are retried with back-off for this many attempts.
OCPI_PUSH_MAX_ATTEMPTS = env_int("OCPI_PUSH_MAX_ATTEMPTS", 30, minimum=1, maximum=200)
# Allow partner URLs on loopback/private addresses; on by default only with DEBUG.
OCPI_ALLOW_PRIVATE_HOSTS = env_bool("OCPI_ALLOW_PRIVATE_HOSTS", DEBUG)
# The electricity sold, as OCPI EnergyMix in locations and tariffs: the supplier (blank = not
# published), whether it is green, and the product's name.
OCPI_ENERGY_SUPPLIER = env_str("OCPI_ENERGY_SUPPLIER")
OCPI_ENERGY_GREEN = env_bool("OCPI_ENERGY_GREEN", False)
OCPI_ENERGY_PRODUCT = env_str("OCPI_ENERGY_PRODUCT")
# Days the OCPI request log and delivered pushes are kept.
OCPI_LOG_RETENTION_DAYS = env_int("OCPI_LOG_RETENTION_DAYS", 30, minimum=1)
CELERY_BEAT_SCHEDULE |= {
    "ocpi-push-sweep": {"task": "ocpi.push_sweep_task", "schedule": 15.0},
    "ocpi-log-prune": {"task": "ocpi.log_prune_task", "schedule": 3600.0},
    "ocpi-command-timeouts": {"task": "ocpi.command_timeout_sweep_task", "schedule": 5.0},
}

# --- smart charging (docs/smart-charging.md) -------------------------------------------------------
# How often the schedule rules are applied (seconds); a rule takes effect within one tick.
SMART_SCHEDULE_TICK = env_int("SMART_SCHEDULE_TICK", 30, minimum=1)
# How often lost site rebalances are swept up (seconds).
SMART_REBALANCE_SWEEP = env_int("SMART_REBALANCE_SWEEP", 10, minimum=1)
# How long a rebalance waits for stations to accept lowered limits before raising others (seconds).
SMART_STEP_TIMEOUT = env_int("SMART_STEP_TIMEOUT", 8, minimum=1, maximum=60)
SMART_REBALANCE_LOCK_SECONDS = env_int("SMART_REBALANCE_LOCK_SECONDS", 120, minimum=10)
CELERY_BEAT_SCHEDULE |= {
    "smartcharging-schedules": {
        "task": "smartcharging.schedules_apply_task",
        "schedule": float(SMART_SCHEDULE_TICK),
    },
    "smartcharging-rebalance-due": {
        "task": "smartcharging.site_rebalance_due_task",
        "schedule": float(SMART_REBALANCE_SWEEP),
    },
}

# Guest pay-as-you-go (billing.guest, docs/billing.md): the amounts a guest may reserve on a card, in
# the connector's tariff currency; the session is stopped when its cost reaches GUEST_STOP_AT_PERCENT
# of the hold; a hold whose session never starts is released after GUEST_START_TIMEOUT seconds.
from decimal import Decimal, InvalidOperation  # noqa: E402  (kept with the guest block to ease merging)

GUEST_HOLD_AMOUNTS = env_list("GUEST_HOLD_AMOUNTS", ["20", "40", "60"])
try:
    _guest_amounts = [Decimal(amount) for amount in GUEST_HOLD_AMOUNTS]
except InvalidOperation:
    raise ConfigError("GUEST_HOLD_AMOUNTS must be amounts such as 20,40,60") from None
if not _guest_amounts or any(a <= 0 or a != a.quantize(Decimal("0.01")) for a in _guest_amounts):
    raise ConfigError("GUEST_HOLD_AMOUNTS must be positive amounts with at most two decimals")
GUEST_STOP_AT_PERCENT = env_int("GUEST_STOP_AT_PERCENT", 95, minimum=50, maximum=100)
GUEST_START_TIMEOUT = env_int("GUEST_START_TIMEOUT", 300, minimum=30)
GUEST_LIMIT_CHECK_INTERVAL = env_int("GUEST_LIMIT_CHECK_INTERVAL", 15, minimum=1)
CELERY_BEAT_SCHEDULE |= {
    "billing-guest-limits": {
        "task": "billing.guest_limits_enforce_task",
        "schedule": float(GUEST_LIMIT_CHECK_INTERVAL),
    },
    "billing-guest-sweep": {"task": "billing.guest_charges_sweep_task", "schedule": 60.0},
}

# Saved cards (billing.cards): a declined automatic payment of an invoice is tried again after each
# of these many hours (counted from the previous failure); the driver is mailed every time.
BILLING_AUTOPAY_RETRY_HOURS = env_list("BILLING_AUTOPAY_RETRY_HOURS", ["24", "72", "168"])
if not all(hours.isdigit() and int(hours) > 0 for hours in BILLING_AUTOPAY_RETRY_HOURS):
    raise ConfigError("BILLING_AUTOPAY_RETRY_HOURS must be whole hours such as 24,72,168")
# Block a driver's cards once this many of their invoices are unpaid after a failed card payment
# (0: never); paying them unblocks the cards.
BILLING_BLOCK_AFTER_FAILED_PAYMENTS = env_int("BILLING_BLOCK_AFTER_FAILED_PAYMENTS", 0, minimum=0)
# Charge each CDR of a driver with a saved card when it is made (an invoice of that one session, paid
# at once), instead of charging the card for the period's invoice.
BILLING_CHARGE_PER_CDR = env_bool("BILLING_CHARGE_PER_CDR", False)
# A TrueType font with the letters of every language invoices are written in (Ukrainian needs
# Cyrillic; PDF's built-in Helvetica has none). Blank or missing file: Helvetica.
BILLING_PDF_FONT = env_str("BILLING_PDF_FONT", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
BILLING_PDF_FONT_BOLD = env_str(
    "BILLING_PDF_FONT_BOLD", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
)
CELERY_BEAT_SCHEDULE |= {
    "billing-invoice-autopay-retry": {"task": "billing.invoice_autopay_retry_task", "schedule": 3600.0},
    "billing-payments-reconcile": {
        "task": "billing.payments_reconcile_task",
        "schedule": crontab(minute=30, hour=6),
    },
}

# The eMSP role (ChargeNet's drivers on partner networks): what a driver pays for a partner's CDR is
# the partner's price excl. VAT plus OCPI_ROAMING_MARKUP_PERCENT of it plus OCPI_ROAMING_FEE per
# session, then OCPI_ROAMING_VAT_PERCENT VAT on top (docs/ocpi.md).
# Advertise the eMSP role (its modules under /ocpi/2.2.1/emsp/ and the EMSP role in our credentials);
# off for a deployment that is only a CPO, or for partners that cannot tell endpoints apart by role.
OCPI_EMSP_ROLE = env_bool("OCPI_EMSP_ROLE", True)
OCPI_ROAMING_MARKUP_PERCENT = env_decimal("OCPI_ROAMING_MARKUP_PERCENT", "0", minimum="0")
OCPI_ROAMING_FEE = env_decimal("OCPI_ROAMING_FEE", "0", minimum="0")
OCPI_ROAMING_VAT_PERCENT = env_decimal("OCPI_ROAMING_VAT_PERCENT", "21", minimum="0")
# Seconds between incremental pulls (date_from) of partners' locations and tariffs.
OCPI_PULL_INTERVAL = env_int("OCPI_PULL_INTERVAL", 300, minimum=10)
CELERY_BEAT_SCHEDULE |= {
    "ocpi-emsp-pull": {"task": "ocpi.partner_pull_task", "schedule": float(OCPI_PULL_INTERVAL)},
    "ocpi-emsp-sweep": {"task": "ocpi.emsp_sweep_task", "schedule": 15.0},
}

# --- fleet operations: firmware campaigns, diagnostics and logs (docs/firmware-and-diagnostics.md) --
# The base URL stations download firmware from and upload diagnostics to (blank = SITE_URL).
FLEET_PUBLIC_URL = env_str("FLEET_PUBLIC_URL").rstrip("/")
FLEET_IMAGE_MAX_BYTES = env_int("FLEET_IMAGE_MAX_BYTES", 512 * 1024 * 1024, minimum=1)
FLEET_DOWNLOAD_TOKEN_SECONDS = env_int("FLEET_DOWNLOAD_TOKEN_SECONDS", 86400, minimum=60)
FLEET_UPLOAD_TOKEN_SECONDS = env_int("FLEET_UPLOAD_TOKEN_SECONDS", 86400, minimum=60)
FLEET_UPLOAD_MAX_BYTES = env_int("FLEET_UPLOAD_MAX_BYTES", 100 * 1024 * 1024, minimum=1)
FLEET_DIAGNOSTICS_RETENTION_DAYS = env_int("FLEET_DIAGNOSTICS_RETENTION_DAYS", 30, minimum=1)
# A station silent this long in an update is asked for its status (TriggerMessage); silent this long
# it has failed the attempt.
FLEET_QUIET_SECONDS = env_int("FLEET_QUIET_SECONDS", 600, minimum=1)
FLEET_STEP_TIMEOUT_SECONDS = env_int("FLEET_STEP_TIMEOUT_SECONDS", 3 * 3600, minimum=10)
FLEET_MAX_STARTS_PER_TICK = env_int("FLEET_MAX_STARTS_PER_TICK", 500, minimum=1)
FLEET_TICK_SECONDS = env_int("FLEET_TICK_SECONDS", 10, minimum=1)
# The FTP server for diagnostics uploads (many 1.6 chargers upload only by FTP), started by
# `manage.py run`; in production run `manage.py fleet_ftp` on its own.
FLEET_FTP_ENABLED = env_bool("FLEET_FTP_ENABLED", True)
FLEET_FTP_HOST = env_str("FLEET_FTP_HOST", HOST)
FLEET_FTP_PORT = env_int("FLEET_FTP_PORT", 2121, minimum=1, maximum=65535)
FLEET_FTP_PUBLIC_HOST = env_str("FLEET_FTP_PUBLIC_HOST", HOST)
# Passive data ports (open them in the firewall; blank = any free port) and the address the server
# announces for them when it sits behind NAT (blank = its own).
FLEET_FTP_PASSIVE_PORTS = env_str("FLEET_FTP_PASSIVE_PORTS", "60000-60099")
FLEET_FTP_MASQUERADE_ADDRESS = env_str("FLEET_FTP_MASQUERADE_ADDRESS")
CELERY_BEAT_SCHEDULE |= {
    "fleet-campaigns-advance": {
        "task": "fleet.campaigns_advance_task",
        "schedule": float(FLEET_TICK_SECONDS),
    },
    "fleet-diagnostics-prune": {"task": "fleet.diagnostics_prune_task", "schedule": 3600.0},
}
