"""Settings of the sandbox: a faithful local Cartly (../shared/cartly-api.md), on its own database.

It shares no code with the engine; the two meet only over HTTP.
"""

from pathlib import Path

from config.env import database_from_url, env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = env_str("SANDBOX_SECRET_KEY", "dev-only-insecure-sandbox-key")
DEBUG = env_bool("SANDBOX_DEBUG", True)
ALLOWED_HOSTS = env_list("SANDBOX_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
# The address the sandbox is reached at; it appears in cart recovery URLs.
SANDBOX_BASE_URL = env_str("SANDBOX_BASE_URL", "http://127.0.0.1:8001").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "oauth2_provider",
    "sandbox",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "sandbox.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # Listed ahead of the app loaders so sandbox/templates/oauth2_provider/ overrides
        # django-oauth-toolkit's pages (oauth2_provider comes first in INSTALLED_APPS).
        "DIRS": [BASE_DIR / "sandbox" / "templates"],
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

DATABASES = {
    "default": database_from_url(
        env_str("SANDBOX_DATABASE_URL", f"sqlite:///{VAR_DIR / 'sandbox.sqlite3'}"),
        conn_max_age=0,
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
LOGIN_URL = "sandbox:login"
LOGIN_REDIRECT_URL = "sandbox:home"
LOGOUT_REDIRECT_URL = "sandbox:login"

# Browsers share cookies across ports: keep the sandbox's session apart from the engine's.
SESSION_COOKIE_NAME = "sandbox_sessionid"
CSRF_COOKIE_NAME = "sandbox_csrftoken"

# django-oauth-toolkit's swappable models, named so migrations can depend on them.
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL = "oauth2_provider.AccessToken"
OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL = "oauth2_provider.RefreshToken"
OAUTH2_PROVIDER_ID_TOKEN_MODEL = "oauth2_provider.IDToken"
OAUTH2_PROVIDER_GRANT_MODEL = "oauth2_provider.Grant"

# OAuth 2.0 server (django-oauth-toolkit). The scopes are the contract's [assumed] list.
OAUTH2_PROVIDER = {
    "SCOPES": {
        "read_shop": "See your shop's name, domain and currency",
        "read_customers": "See your customers",
        "write_customers": "Create and change customers",
        "read_orders": "See your orders",
        "write_orders": "Change orders",
        "read_products": "See your products",
        "write_inventory": "Change inventory levels",
        "write_discounts": "Create discount codes",
        "webhooks": "Receive notifications when things happen in your shop",
    },
    "PKCE_REQUIRED": True,
    "ACCESS_TOKEN_EXPIRE_SECONDS": env_int("SANDBOX_ACCESS_TOKEN_SECONDS", 36000),
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 0,
    "ALLOWED_REDIRECT_URI_SCHEMES": ["http", "https"],
    "REQUEST_APPROVAL_PROMPT": "force",
    # Adds S256-only PKCE and "an approval needs a shop" to oauthlib's server (sandbox/oauth.py).
    "OAUTH2_SERVER_CLASS": "sandbox.oauth.Server",
}

# Shop behaviour and fault injection (tests and benchmarks). Per-shop values override these.
SANDBOX_CART_ABANDON_SECONDS = env_int("SANDBOX_CART_ABANDON_SECONDS", 60)
SANDBOX_FAULT_ERROR_RATE = env_float("SANDBOX_FAULT_ERROR_RATE", 0.0)
SANDBOX_FAULT_RATE_LIMIT_RATE = env_float("SANDBOX_FAULT_RATE_LIMIT_RATE", 0.0)
SANDBOX_FAULT_LATENCY_MS = env_int("SANDBOX_FAULT_LATENCY_MS", 0)
SANDBOX_FAULT_DELIVERY_FAIL_RATE = env_float("SANDBOX_FAULT_DELIVERY_FAIL_RATE", 0.0)
SANDBOX_FAULT_DELIVERY_DUPLICATE_RATE = env_float("SANDBOX_FAULT_DELIVERY_DUPLICATE_RATE", 0.0)
# A token bucket per (app, shop): the sustained rate and the burst it allows.
SANDBOX_RATE_LIMIT_PER_SECOND = env_float("SANDBOX_RATE_LIMIT_PER_SECOND", 50.0)
SANDBOX_RATE_LIMIT_BURST = env_int("SANDBOX_RATE_LIMIT_BURST", 100)
# Deliveries: a real Cartly retries over hours; the sandbox compresses that schedule.
SANDBOX_DELIVERY_TIMEOUT_SECONDS = env_float("SANDBOX_DELIVERY_TIMEOUT_SECONDS", 5.0)
SANDBOX_DELIVERY_RETRY_SECONDS = [
    float(s) for s in env_list("SANDBOX_DELIVERY_RETRY_SECONDS", "1,2,4,8,16,32")
]
SANDBOX_DELIVERY_WORKERS = env_int("SANDBOX_DELIVERY_WORKERS", 8)
SANDBOX_DELIVERY_POLL_SECONDS = env_float("SANDBOX_DELIVERY_POLL_SECONDS", 0.1)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s sandbox %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("SANDBOX_LOG_LEVEL", "INFO")},
}
