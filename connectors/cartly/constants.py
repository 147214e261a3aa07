"""Every [assumed] value of the Cartly contract (/work/shared/cartly-api.md), in one place.

A real Cartly that differs from our assumptions should be a one-line change here.
"""

# --- OAuth [assumed] ---------------------------------------------------------------------
# The scopes the engine asks for, space-separated on the wire (cartly-api.md, "OAuth 2.0").
CARTLY_SCOPES: tuple[str, ...] = (
    "read_shop",
    "read_customers",
    "write_customers",
    "read_orders",
    "write_orders",
    "read_products",
    "write_inventory",
    "write_discounts",
    "webhooks",
)
AUTHORIZE_PATH = "/oauth/authorize/"  # [page: exists; path assumed]
TOKEN_PATH = "/oauth/token/"
REVOKE_PATH = "/oauth/revoke_token/"

# --- Apps API paths ([page] unless noted) ------------------------------------------------
ME_PATH = "/apps/api/me"
CUSTOMERS_PATH = "/apps/api/customers"
CUSTOMER_PATH = "/apps/api/customers/{id}"
ORDERS_PATH = "/apps/api/orders"  # [assumed]: the page's "Find Order" needs a list endpoint
ORDER_PATH = "/apps/api/orders/{id}"
PRODUCTS_PATH = "/apps/api/products"  # [assumed]
INVENTORY_PATH = "/apps/api/inventory/{id}"
DISCOUNTS_PATH = "/apps/api/discounts"
WEBHOOKS_PATH = "/apps/api/webhooks"
WEBHOOK_PATH = "/apps/api/webhooks/{id}"

# --- Envelopes [assumed]: one object answers {"<noun>": {...}}, a list {"<plural>": [...]} --
SHOP_KEY = "shop"
CUSTOMER_KEY, CUSTOMERS_KEY = "customer", "customers"
ORDER_KEY, ORDERS_KEY = "order", "orders"
PRODUCTS_KEY = "products"
INVENTORY_LEVEL_KEY = "inventory_level"
DISCOUNT_KEY = "discount"
WEBHOOK_KEY, WEBHOOKS_KEY = "webhook", "webhooks"

# --- Paging [assumed]: ascending ids, `limit` 1–250 (default 50), `since_id` exclusive ------
PAGE_SIZE_MIN = 1
PAGE_SIZE_MAX = 250
PAGE_SIZE_DEFAULT = 50

# --- Headers ---------------------------------------------------------------------------------
IDEMPOTENCY_HEADER = "Idempotency-Key"  # [assumed], honoured on POST and PUT for 24 h
RETRY_AFTER_HEADER = "Retry-After"  # [assumed] seconds, sent with 429

# --- Error codes of the {"error", "message", "fields"?} body [assumed] -----------------------
ERROR_BAD_REQUEST = "bad_request"
ERROR_INVALID_TOKEN = "invalid_token"
ERROR_INSUFFICIENT_SCOPE = "insufficient_scope"
ERROR_NOT_FOUND = "not_found"
ERROR_IDEMPOTENCY_CONFLICT = "idempotency_conflict"
ERROR_VALIDATION_FAILED = "validation_failed"
ERROR_RATE_LIMITED = "rate_limited"
ERROR_SERVER = "server_error"

# --- Our own client limits (not Cartly's) ----------------------------------------------------
# Used when CARTLY_TIMEOUT_SECONDS is unset; a worker must never wait on Cartly forever.
DEFAULT_TIMEOUT_SECONDS = 10.0
# Connections kept per host in the process-wide pool: one per concurrent thread of a worker,
# with headroom; requests' default of 10 would drop sockets under a threaded worker.
POOL_MAXSIZE = 32
POOL_CONNECTIONS = 4  # distinct hosts cached (Cartly plus, in tests, a sandbox or two)
# When Cartly sends 429 without a usable Retry-After, wait this long before trying again.
DEFAULT_RETRY_AFTER_SECONDS = 1.0
# A Retry-After beyond a day (or "inf") is read as a day: the runner parks long waits anyway.
MAX_RETRY_AFTER_SECONDS = 86400.0
# A non-JSON error body (an HTML proxy page) is quoted at most this long in a message.
MAX_QUOTED_BODY_CHARS = 200
