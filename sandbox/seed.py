"""A ready-to-use sandbox: a merchant login, its shop with a small catalogue, and the OAuth app
the engine connects with. `seed()` is idempotent: a second run changes nothing and returns the
same values, so `make run` can call it every time.
"""

import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from django.contrib.auth import get_user_model
from django.db import transaction
from oauth2_provider.models import Application

from sandbox.models import DemoLogin, Shop
from sandbox.shop import create_product

MERCHANT_USERNAME = "merchant"
SHOP_NAME = "Demo Shop"
SHOP_DOMAIN = "demo.mycartly.pro"
SHOP_CURRENCY = "USD"
APP_NAME = "Cartly Automations"
PASSWORD_BYTES = 12  # 16 URL-safe characters: a demo login, typed by hand now and then

# (title, vendor, variants): obviously fake goods, enough to place orders and move stock.
CATALOGUE = [
    (
        "Fake Coffee Mug",
        "Acme Demo Goods",
        [
            {"sku": "MUG-WHT", "title": "White", "price": "12.50", "available": 40},
            {"sku": "MUG-BLK", "title": "Black", "price": "12.50", "available": 25},
        ],
    ),
    (
        "Sample T-Shirt",
        "Acme Demo Goods",
        [
            {"sku": "TEE-S", "title": "Small", "price": "19.90", "available": 15},
            {"sku": "TEE-M", "title": "Medium", "price": "19.90", "available": 30},
            {"sku": "TEE-L", "title": "Large", "price": "21.90", "available": 8},
        ],
    ),
    (
        "Placeholder Tote Bag",
        "Example Crafts",
        [
            {"sku": "TOTE-1", "title": "Default", "price": "9.00", "available": 60},
        ],
    ),
    (
        "Test Sticker Pack",
        "Example Crafts",
        [
            {"sku": "STK-5", "title": "5 stickers", "price": "4.00", "available": 200},
            {"sku": "STK-20", "title": "20 stickers", "price": "12.00", "available": 3},
        ],
    ),
]


@dataclass(frozen=True)
class SeedResult:
    username: str
    password: str
    shop_id: str
    shop_domain: str
    client_id: str
    client_secret: str
    redirect_uris: list[str]

    def as_dict(self) -> dict:
        """The `--json` shape that scripts and the Makefile read."""
        return {
            "merchant": {"username": self.username, "password": self.password},
            "shop": {"id": self.shop_id, "domain": self.shop_domain},
            "oauth": {
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "redirect_uris": list(self.redirect_uris),
            },
        }


def clean_redirect_uri(uri: str) -> str:
    """An absolute http(s) URI without a fragment (RFC 6749 §3.1.2), or ValueError."""
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.fragment:
        raise ValueError(f"{uri!r} is not an absolute http(s) redirect URI without a fragment")
    if any(c.isspace() for c in uri):
        raise ValueError(f"{uri!r} contains whitespace")  # the field is space separated
    return uri


def ensure_merchant():
    """The `merchant` user and its password, random once and remembered in DemoLogin."""
    user = get_user_model().objects.filter(username=MERCHANT_USERNAME).first()
    login = DemoLogin.objects.filter(username=MERCHANT_USERNAME).first()
    if user is not None and login is not None:
        return user, login.password
    # A fresh database, or a user whose password we never knew: set a known one.
    password = secrets.token_urlsafe(PASSWORD_BYTES)
    if user is None:
        user = get_user_model().objects.create_user(MERCHANT_USERNAME, password=password)
    else:
        user.set_password(password)
        user.save(update_fields=["password"])
    DemoLogin.objects.update_or_create(username=MERCHANT_USERNAME, defaults={"password": password})
    return user, password


def ensure_shop(owner) -> Shop:
    shop = Shop.objects.filter(owner=owner).first()
    if shop is None:
        shop = Shop.objects.create(
            owner=owner, name=SHOP_NAME, domain=SHOP_DOMAIN, currency=SHOP_CURRENCY
        )
    return shop


def ensure_catalogue(shop: Shop) -> None:
    """Stock an empty shop; a shop with any product is left as the merchant made it."""
    if shop.products.exists():
        return
    for title, vendor, variants in CATALOGUE:
        create_product(shop, {"title": title, "vendor": vendor}, variants)


def ensure_application(redirect_uris: list[str]) -> Application:
    """The engine's client: confidential, authorization code, with a readable secret.

    hash_client_secret=False because the sandbox signs deliveries with the plaintext secret
    (cartly-api.md "Signing secret"); skip_authorization=False so the merchant always consents.
    """
    app = Application.objects.filter(name=APP_NAME).order_by("pk").first()
    if app is None:
        app = Application(
            name=APP_NAME,
            client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
            hash_client_secret=False,
            skip_authorization=False,
            redirect_uris="",
        )
        # client_id and client_secret come from DOT's random generators on the first save.
    known = app.redirect_uris.split()
    missing = [uri for uri in redirect_uris if uri not in known]
    if app.pk is None or missing:
        app.redirect_uris = " ".join(known + list(dict.fromkeys(missing)))
        app.save()
    return app


@transaction.atomic
def seed(redirect_uris: list[str] | tuple[str, ...] = ()) -> SeedResult:
    cleaned = [clean_redirect_uri(uri) for uri in redirect_uris]
    user, password = ensure_merchant()
    shop = ensure_shop(user)
    ensure_catalogue(shop)
    app = ensure_application(cleaned)
    return SeedResult(
        username=user.get_username(),
        password=password,
        shop_id=shop.id,
        shop_domain=shop.domain,
        client_id=app.client_id,
        client_secret=app.client_secret,
        redirect_uris=app.redirect_uris.split(),
    )


def write_env_file(path: Path, values: dict[str, str]) -> None:
    """Set KEY=value lines in an env file (readable by its owner only), keeping other lines.

    Written to a temporary file and renamed, so a reader never sees half a file and the
    secret never sits in a file with looser permissions.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    kept = []
    if path.exists():
        kept = [
            line
            for line in path.read_text().splitlines()
            if line.partition("=")[0].strip() not in values
        ]
    lines = kept + [f"{key}={value}" for key, value in values.items()]
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write("\n".join(lines) + "\n")
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
