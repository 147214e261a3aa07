"""Settings of the automation engine. Every value comes from the environment (see .env.example).

Production by default, development by choice: without DEBUG the settings are the secure ones
(`manage.py check --deploy` is silent), and `make run` sets DEBUG=1 and what development needs
(var/run.env, the Makefile). Embedded defaults (SQLite, Celery's filesystem broker under var/)
need nothing but Python; DATABASE_URL and REDIS_URL switch to PostgreSQL and Redis.
"""

import hashlib
import os
from pathlib import Path
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from config.env import database_from_url, env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", False)
# The fallback key only serves a local, DEBUG checkout; production must set SECRET_KEY.
DEV_SECRET_KEY = "dev-only-insecure-engine-key-change-me"
SECRET_KEY = env_str("SECRET_KEY", DEV_SECRET_KEY)
if not DEBUG and SECRET_KEY == DEV_SECRET_KEY:
    raise ImproperlyConfigured(
        "Set SECRET_KEY (50 or more random characters): the built-in one only serves DEBUG "
        "checkouts. `make run` sets DEBUG=1 for you."
    )
# Where Cartly reaches us: used to build REST Hook callback URLs and the OAuth redirect URI.
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
_PUBLIC = urlsplit(PUBLIC_BASE_URL)
# The public host is always allowed (Cartly and browsers use it); add others for health checks.
ALLOWED_HOSTS = [
    host
    for host in (*env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]"), _PUBLIC.hostname)
    if host
]
CSRF_TRUSTED_ORIGINS = [
    *env_list("CSRF_TRUSTED_ORIGINS", ""),
    f"{_PUBLIC.scheme}://{_PUBLIC.netloc}",
]

# --- HTTPS and cookies: on unless DEBUG; each can be turned off for a TLS-terminating proxy ---
# Behind a proxy that terminates TLS, set SECURE_PROXY_SSL_HEADER=HTTP_X_FORWARDED_PROTO,https
# (only if the proxy always sets that header) so Django knows the request was HTTPS.
_PROXY_HEADER = env_list("SECURE_PROXY_SSL_HEADER", "")
if _PROXY_HEADER and len(_PROXY_HEADER) != 2:
    raise ImproperlyConfigured(
        "SECURE_PROXY_SSL_HEADER must be a header and a value, e.g. HTTP_X_FORWARDED_PROTO,https"
    )
SECURE_PROXY_SSL_HEADER = tuple(_PROXY_HEADER) if _PROXY_HEADER else None
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
# A year, as browsers' preload lists ask; set 0 while trying HTTPS out for the first time.
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
# Health checks and the hooks come over plain HTTP inside some networks: list them here.
SECURE_REDIRECT_EXEMPT = env_list("SECURE_REDIRECT_EXEMPT", "")

# Sign-up open to anyone who reaches the site? Closed in production unless you choose it:
# anyone who signs up can make the server render templates and call Cartly. `make run` opens it.
SIGNUP_OPEN = env_bool("SIGNUP_OPEN", DEBUG)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "ninja",  # its templates and static files: the API docs page served from here, not a CDN
    "accounts",
    "connectors",
    "automations",
    "notifications",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.TimeZoneMiddleware",  # pages in the merchant's time zone
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into our "too many attempts" page.
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
                "accounts.context_processors.signup",
            ],
        },
    },
]


DATABASES = {
    "default": database_from_url(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'engine.sqlite3'}"),
        conn_max_age=env_int("CONN_MAX_AGE", 60),
    )
}
# A connection the server dropped (a restart, a failover) is noticed and replaced at the start
# of the next request or task instead of failing it (Django checks before reusing it).
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not shared-cache memory: threads in tests (live server, Celery worker) then get
    # WAL and the busy timeout instead of "database table is locked".
    # One per test process, so two test sessions on one checkout never share a file.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-engine-{os.getpid()}.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# django-axes first: it refuses a locked-out account or client before a password is checked.
AUTHENTICATION_BACKENDS = [
    "accounts.backends.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# `manage.py collectstatic` gathers every static file here; whitenoise serves them from here.
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))
# Project-wide static files (the builder's script); apps may still ship their own.
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Compressed copies made by collectstatic. Not the hashed-names (manifest) variant: it
    # cannot render a page before collectstatic has run, which tests and checkouts do.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# The sandbox runs on the same host in development: distinct cookie names keep the two
# sites' sessions apart (browsers share cookies across ports).
SESSION_COOKIE_NAME = "engine_sessionid"
CSRF_COOKIE_NAME = "engine_csrftoken"

# --- Cartly -------------------------------------------------------------------------------
CARTLY_BASE_URL = env_str("CARTLY_BASE_URL", "http://127.0.0.1:8001").rstrip("/")
CARTLY_CLIENT_ID = env_str("CARTLY_CLIENT_ID")
CARTLY_CLIENT_SECRET = env_str("CARTLY_CLIENT_SECRET")
# While the client secret is being rotated, deliveries Cartly signed with the old one still
# verify (cartly-api.md, "Signing secret"); empty it once the rotation is over.
CARTLY_CLIENT_SECRET_PREVIOUS = env_str("CARTLY_CLIENT_SECRET_PREVIOUS")
CARTLY_TIMEOUT_SECONDS = env_float("CARTLY_TIMEOUT_SECONDS", 10.0)
# oauthlib insists on https; the local sandbox speaks plain http on loopback only.
if CARTLY_BASE_URL.startswith(("http://127.", "http://localhost", "http://[::1]")):
    os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")

# Tokens at rest: comma-separated Fernet keys, newest first (MultiFernet rotation). Required
# unless DEBUG, where a key derived from SECRET_KEY lets a local checkout work with no set-up.
# Checked at start (connectors/checks.py): missing, malformed or unable to open stored tokens
# stops every process with a message naming FIELD_ENCRYPTION_KEYS.
FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEYS", "")

# --- The HTTP step ("Send to another system", connectors/http) ------------------------------
# Hosts it may call although they are not public (loopback, private networks): for local
# development and tests only. Comma-separated names or IP literals, matched exactly.
HTTP_STEP_ALLOWED_HOSTS = env_list("HTTP_STEP_ALLOWED_HOSTS", "")

# --- Email (notifications) ---------------------------------------------------------------
# The console backend prints emails in development; production sets an SMTP backend.
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Cartly Automations <automations@localhost>")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
# A slow mail server must not hold a worker (notifications are sent from the run's task).
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)

# --- Celery -------------------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
# The filesystem broker's folder: every process of one installation (web, workers, beat) must
# name the same one.
CELERY_FILESYSTEM_DIR = Path(env_str("CELERY_FILESYSTEM_DIR", str(VAR_DIR / "celery")))
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Longer than any task's time limit: a late-acked task is redelivered only after this.
        # The engine's clock finds a step whose worker died long before (its lease).
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 600),
        # A request publishing while Redis is down gives up fast; the sweep republishes.
        "socket_connect_timeout": env_float("CELERY_REDIS_CONNECT_TIMEOUT", 1.0),
        # A half-open connection must not hang a request; above the worker's 1 s BRPOP.
        "socket_timeout": env_float("CELERY_REDIS_SOCKET_TIMEOUT", 5.0),
        # A publish meeting a broker that refuses connections fails at once (about a
        # millisecond) instead of kombu's default of sleeping and trying again for
        # CELERY_BROKER_CONNECTION_TIMEOUT: the row is already stored and the sweep sends it.
        # Workers' consumers reconnect with their own retry loop, which this does not touch.
        "max_retries": 0,
    }
else:
    for sub in ("queue", "processed", "control"):
        (CELERY_FILESYSTEM_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_FILESYSTEM_DIR / "queue"),
        "data_folder_out": str(CELERY_FILESYSTEM_DIR / "queue"),
        "processed_folder": str(CELERY_FILESYSTEM_DIR / "processed"),
        "control_folder": str(CELERY_FILESYSTEM_DIR / "control"),  # broadcast (purge, ping)
        "store_processed": False,
        # kombu looks for new message files once a second by default: a one-step run would
        # wait up to a second per hop under `make run`; ten looks a second cost next to nothing.
        "polling_interval": 0.1,
    }
# --- Throttles: sign-up, the test email, confirmation links (accounts/throttles.py) ---------
# django-ratelimit counts in the cache: Redis when REDIS_URL is set, so every web process
# shares one count. Without Redis the count is per process, which is exact for `make run`
# (one runserver) and only multiplies the limits by the number of web processes elsewhere.
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "engine-cache",
            # A Redis outage must not hang a request; a throttle that cannot count refuses.
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# How many proxies in front of us append to X-Forwarded-For: the client is the address the
# outermost of ours saw. 0: the client is REMOTE_ADDR (no proxy, or one that hides it).
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
RATELIMIT_IP_META_KEY = "accounts.clients.client_ip"
RATELIMIT_USE_CACHE = "default"

# --- Login lockout (django-axes): per account and per client, in the database --------------
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)  # wrong passwords before a lockout
AXES_COOLOFF_TIME = env_float("AXES_COOLOFF_HOURS", 0.25)  # hours; then attempts may resume
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # either one reaching the limit locks
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "accounts.clients.client_ip"
AXES_LOCKOUT_CALLABLE = "accounts.views.locked_out"
AXES_VERBOSE = False  # its start-up banner and per-attempt lines; lockouts are still logged

CELERY_TASK_IGNORE_RESULT = True
# Celery's Django fixup otherwise reconnects to the database for every task (~13 ms).
CELERY_DB_REUSE_MAX = env_int("CELERY_DB_REUSE_MAX", 100) or None
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A batch's calls run at once, each bounded by CARTLY_TIMEOUT_SECONDS, so a task ends in
# seconds; the hard limit bounds the step lease below, and so how soon a dead worker's step
# runs again (docs/operations.md, "Timings").
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 40)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 45)
CELERY_TIMEZONE = "UTC"
# Publishing must never hang a request that has already committed (DESIGN.md).
CELERY_BROKER_CONNECTION_TIMEOUT = env_float("CELERY_BROKER_CONNECTION_TIMEOUT", 2.0)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A worker outlives any broker outage (Celery's default gives up after 100 tries, about 45
# minutes, and exits): its clock keeps dispatching stored events meanwhile, and it consumes
# again as soon as the broker is back.
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# A task running when the broker connection drops finishes and records its outcome in the
# database (the truth); cancelling it would leave its steps claimed until their lease lapses.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False

# --- REST Hook receiver (automations/receiver.py) ----------------------------------------
# A delivery whose created_at is older than this is kept as `stale` and never run: a day-old
# "new order" should not send today's welcome email. Cartly retries for less than that.
HOOK_STALE_AFTER_SECONDS = env_int("HOOK_STALE_AFTER_SECONDS", 24 * 3600)
# How long a web process reuses a subscription it looked up, so a busy hook costs no query
# per delivery; a removed subscription answers 410 at most this much later.
HOOK_SUBSCRIPTION_CACHE_SECONDS = env_float("HOOK_SUBSCRIPTION_CACHE_SECONDS", 5.0)

# --- Engine (docs/operations.md, "Timings") ------------------------------------------------
# Waits between attempts of a failed call, in seconds: 1, 5, 15, 30 minutes, 1, 2, 4, 6, 8 hours.
RETRY_SCHEDULE_DEFAULT = "60,300,900,1800,3600,7200,14400,21600,28800"
ENGINE_RETRY_SCHEDULE = [
    float(x) for x in env_list("ENGINE_RETRY_SCHEDULE", RETRY_SCHEDULE_DEFAULT)
]
# Events one dispatch claims at once; step runs one task takes at once.
ENGINE_DISPATCH_BATCH_SIZE = env_int("ENGINE_DISPATCH_BATCH_SIZE", 200)
ENGINE_STEP_BATCH_SIZE = env_int("ENGINE_STEP_BATCH_SIZE", 50)
# Calls one worker process makes at once (threads sharing one pooled session).
ENGINE_CALL_CONCURRENCY = env_int("ENGINE_CALL_CONCURRENCY", 16)
# A published step not claimed within this is sent again (its message was lost).
ENGINE_STEP_LOST_AFTER_SECONDS = env_int("ENGINE_STEP_LOST_AFTER_SECONDS", 30)
# A running step's claim lasts this long; past it the worker is dead and the step runs again.
ENGINE_STEP_LEASE_SECONDS = env_int("ENGINE_STEP_LEASE_SECONDS", CELERY_TASK_TIME_LIMIT + 15)
# The clock (automations/engine/clock.py) in every worker process: how often it looks for
# stored events when idle, and for steps whose time has come.
ENGINE_CLOCK_IN_WORKER = env_bool("ENGINE_CLOCK_IN_WORKER", True)
ENGINE_CLOCK_IDLE_SECONDS = env_float("ENGINE_CLOCK_IDLE_SECONDS", 0.05)
ENGINE_CLOCK_STEPS_SECONDS = env_float("ENGINE_CLOCK_STEPS_SECONDS", 1.0)
# Backpressure (automations/backpressure.py): a stored delivery's answer waits a hold that grows
# by gain × (lag − target) per second while the engine lags more than the target and shrinks
# while it lags less, at most the maximum (0 = off); past the give-up lag the engine is stopped
# or far behind and answers never wait.
ENGINE_BACKPRESSURE_MAX_SECONDS = env_float("ENGINE_BACKPRESSURE_MAX_SECONDS", 0.25)
ENGINE_BACKPRESSURE_TARGET_SECONDS = env_float("ENGINE_BACKPRESSURE_TARGET_SECONDS", 0.02)
ENGINE_BACKPRESSURE_GAIN = env_float("ENGINE_BACKPRESSURE_GAIN", 4.0)
ENGINE_BACKPRESSURE_GIVE_UP_SECONDS = env_float("ENGINE_BACKPRESSURE_GIVE_UP_SECONDS", 2.0)
# Items a "for each" step goes over unless it asks for fewer (at most 500).
ENGINE_LOOP_MAX_ITEMS = env_int("ENGINE_LOOP_MAX_ITEMS", 100)
# Matches of a search kept for a loop over its results.
ENGINE_SEARCH_MAX_RESULTS = env_int("ENGINE_SEARCH_MAX_RESULTS", 100)
# A shop's circuit opens after this many failures in a row; the first probe after the open
# time, doubling for each failed probe up to the maximum (connectors/circuit.py).
CARTLY_CIRCUIT_FAILURES = env_int("CARTLY_CIRCUIT_FAILURES", 5)
CARTLY_CIRCUIT_OPEN_SECONDS = env_float("CARTLY_CIRCUIT_OPEN_SECONDS", 30.0)
CARTLY_CIRCUIT_MAX_OPEN_SECONDS = env_float("CARTLY_CIRCUIT_MAX_OPEN_SECONDS", 600.0)
# The timings only work together in this order (docs/operations.md, "Timings"): a task is
# stopped (soft, then hard limit) before its steps' lease lapses, so a step is never run again
# while a live worker still holds it; and before Redis would hand its message to another
# worker (visibility timeout).
if not CELERY_TASK_SOFT_TIME_LIMIT < CELERY_TASK_TIME_LIMIT < ENGINE_STEP_LEASE_SECONDS:
    raise ImproperlyConfigured(
        "Keep CELERY_TASK_SOFT_TIME_LIMIT < CELERY_TASK_TIME_LIMIT < ENGINE_STEP_LEASE_SECONDS."
    )
# The longest countdown a message is sent with (subscription retries); longer waits are rows
# with a time, started by beat.
LONGEST_COUNTDOWN_SECONDS = 300
if REDIS_URL and CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] <= max(
    CELERY_TASK_TIME_LIMIT, LONGEST_COUNTDOWN_SECONDS
):
    raise ImproperlyConfigured(
        "Keep CELERY_VISIBILITY_TIMEOUT above CELERY_TASK_TIME_LIMIT and "
        f"{LONGEST_COUNTDOWN_SECONDS} s (the longest countdown)."
    )
# Starts every Idempotency-Key we send; stable per installation (derived from SECRET_KEY).
IDEMPOTENCY_KEY_PREFIX = env_str(
    "IDEMPOTENCY_KEY_PREFIX", hashlib.sha256(SECRET_KEY.encode()).hexdigest()[:12]
)

# --- Polling, reconciliation, sweeps: what beat starts (docs/operations.md) ---------------
POLL_INTERVAL_SECONDS = env_int("POLL_INTERVAL_SECONDS", 30)
# A hook still pending or failed this long after it was asked for: its recipes poll meanwhile.
POLL_FALLBACK_GRACE_SECONDS = env_int("POLL_FALLBACK_GRACE_SECONDS", 60)
RECONCILE_INTERVAL_SECONDS = env_int("RECONCILE_INTERVAL_SECONDS", 30)
SWEEP_INTERVAL_SECONDS = env_int("SWEEP_INTERVAL_SECONDS", 30)
# An event still `received` this long after it arrived lost its publish: the sweep runs it.
SWEEP_EVENT_AFTER_SECONDS = env_int("SWEEP_EVENT_AFTER_SECONDS", 10)
SUBSCRIPTION_SYNC_INTERVAL_SECONDS = env_int("SUBSCRIPTION_SYNC_INTERVAL_SECONDS", 60)
# A deleted recipe stays in the trash (off, restorable, its runs readable) this long.
TRASH_RETENTION_DAYS = env_int("TRASH_RETENTION_DAYS", 30)
TRASH_PURGE_INTERVAL_SECONDS = env_int("TRASH_PURGE_INTERVAL_SECONDS", 3600)


def _every(task: str, seconds: int) -> dict:
    # A copy not started within one interval is dropped: the next one does the same work, and
    # workers coming back after an outage do not chew through a pile of identical sweeps.
    return {"task": task, "schedule": float(seconds), "options": {"expires": float(seconds)}}


CELERY_BEAT_SCHEDULE = {
    "poll": _every("automations.poll_all", POLL_INTERVAL_SECONDS),
    "reconcile-subscriptions": _every("automations.reconcile_all", RECONCILE_INTERVAL_SECONDS),
    "sync-subscriptions": _every(
        "automations.sync_all_subscriptions", SUBSCRIPTION_SYNC_INTERVAL_SECONDS
    ),
    "sweep-events": _every("automations.sweep_events", SWEEP_INTERVAL_SECONDS),
    "sweep-runs": _every("automations.sweep_runs", SWEEP_INTERVAL_SECONDS),
    "sweep-waiting-steps": _every("automations.sweep_waiting_steps", SWEEP_INTERVAL_SECONDS),
    "purge-trash": _every("automations.purge_trash", TRASH_PURGE_INTERVAL_SECONDS),
}
# One budget per shop for every call we make to it (connectors/ratelimit.py), kept under
# Cartly's own limit so our calls meet our wait, not its 429. 0 turns the budget off.
CARTLY_SHOP_RATE_PER_SECOND = env_float("CARTLY_SHOP_RATE_PER_SECOND", 40.0)
CARTLY_SHOP_BURST = env_int("CARTLY_SHOP_BURST", 80)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "filters": {"hide_hook_tokens": {"()": "config.log_filters.HideHookTokens"}},
    # A hook's path holds its secret token (config/log_filters.py): the filter rewrites the
    # record itself, so every handler after it sees the path without the token.
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["hide_hook_tokens"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # runserver's access lines: through our handler, whose filter hides hook tokens.
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.db.backends": {"level": "WARNING"},
        # At DEBUG these log Basic auth headers and token bodies: never below WARNING.
        "oauthlib": {"level": "WARNING"},
        "requests_oauthlib": {"level": "WARNING"},
        # A line per successful login is noise; lockouts are logged as warnings.
        "axes": {"level": "WARNING"},
    },
}
