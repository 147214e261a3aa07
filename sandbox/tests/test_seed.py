"""`sandbox_seed`: the demo merchant, shop, catalogue and OAuth app, made once and kept stable."""

import json
import stat
from io import StringIO

import pytest
import requests
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from oauth2_provider.models import AccessToken, Application

from sandbox.models import DemoLogin, Product, Shop, Variant
from sandbox.seed import seed
from sandbox.tests.test_oauth import authorize_url, callback, log_in, pkce_pair, press

CALLBACK = "http://127.0.0.1:8000/connections/cartly/callback/"
OTHER_CALLBACK = "https://engine.example.test/connections/cartly/callback/"


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def run_command(*args: str) -> str:
    out = StringIO()
    call_command("sandbox_seed", *args, stdout=out)
    return out.getvalue()


def counts() -> tuple[int, ...]:
    models = (User, DemoLogin, Shop, Product, Variant, Application)
    return tuple(model.objects.count() for model in models)


def test_it_makes_a_merchant_a_shop_a_catalogue_and_the_engines_app(db):
    result = seed([CALLBACK])
    assert authenticate(username="merchant", password=result.password) is not None
    shop = Shop.objects.get(pk=result.shop_id)
    assert (shop.name, shop.domain, shop.currency) == ("Demo Shop", "demo.mycartly.pro", "USD")
    assert shop.owner.username == "merchant"
    products = shop.products.prefetch_related("variants")
    assert len(products) == 4
    assert all(1 <= len(p.variants.all()) <= 3 for p in products)
    skus = [v.sku for p in products for v in p.variants.all()]
    assert all(skus) and len(skus) == len(set(skus))
    assert any(v.price > 0 and v.available > 0 for p in products for v in p.variants.all())

    app = Application.objects.get()
    assert app.name == "Cartly Automations"
    assert app.client_type == Application.CLIENT_CONFIDENTIAL
    assert app.authorization_grant_type == Application.GRANT_AUTHORIZATION_CODE
    assert not app.hash_client_secret and not app.skip_authorization
    assert (app.client_id, app.client_secret) == (result.client_id, result.client_secret)
    assert app.redirect_uris == CALLBACK


def test_running_it_twice_changes_nothing(db):
    first = seed([CALLBACK])
    before = counts()
    password_hash = User.objects.get(username="merchant").password
    app_updated = Application.objects.get().updated
    second = seed([CALLBACK])
    assert second == first
    assert counts() == before
    assert User.objects.get(username="merchant").password == password_hash
    assert Application.objects.get().updated == app_updated


def test_it_adds_only_the_missing_redirect_uris(db):
    seed([CALLBACK])
    seed([CALLBACK, OTHER_CALLBACK, OTHER_CALLBACK])
    result = seed([OTHER_CALLBACK])
    assert result.redirect_uris == [CALLBACK, OTHER_CALLBACK]
    assert Application.objects.get().redirect_uris == f"{CALLBACK} {OTHER_CALLBACK}"


@pytest.mark.parametrize(
    "uri", ["ftp://example.test/cb", "/connections/cartly/callback/", "http://x.test/cb#frag"]
)
def test_it_refuses_a_bad_redirect_uri_and_makes_nothing(db, uri):
    with pytest.raises(ValueError):
        seed([uri])
    with pytest.raises(CommandError):
        run_command("--redirect-uri", uri)
    assert counts() == (0, 0, 0, 0, 0, 0)


def test_a_fresh_database_gets_fresh_credentials(db):
    old = seed()
    for model in (Application, Shop, DemoLogin, User):
        model.objects.all().delete()
    new = seed()
    assert new.password != old.password
    assert (new.client_id, new.client_secret) != (old.client_id, old.client_secret)


def test_a_merchant_without_a_remembered_password_gets_a_new_known_one(db):
    User.objects.create_user("merchant", password="forgotten-pass-123")
    result = seed()
    assert authenticate(username="merchant", password=result.password) is not None
    assert DemoLogin.objects.get(username="merchant").password == result.password


def test_json_prints_exactly_the_documented_shape_and_the_same_each_time(db):
    printed = run_command("--json", "--redirect-uri", CALLBACK)
    data = json.loads(printed)
    app = Application.objects.get()
    assert data == {
        "merchant": {"username": "merchant", "password": DemoLogin.objects.get().password},
        "shop": {"id": Shop.objects.get().id, "domain": "demo.mycartly.pro"},
        "oauth": {
            "client_id": app.client_id,
            "client_secret": app.client_secret,
            "redirect_uris": [CALLBACK],
        },
    }
    assert run_command("--json", "--redirect-uri", CALLBACK) == printed


def test_the_summary_shows_the_login_but_not_the_client_secret(db):
    printed = run_command()
    result = seed()
    assert f"merchant / {result.password}" in printed
    assert result.client_id in printed and "demo.mycartly.pro" in printed
    assert result.client_secret not in printed
    assert "--json" in printed


def test_the_env_file_holds_the_client_credentials_for_its_owner_only(db, tmp_path):
    env_file = tmp_path / "run.env"
    env_file.write_text("CARTLY_BASE_URL=http://127.0.0.1:8001\nCARTLY_CLIENT_ID=stale\n")
    env_file.chmod(0o644)
    run_command("--env-file", str(env_file))
    result = seed()
    assert env_file.read_text().splitlines() == [
        "CARTLY_BASE_URL=http://127.0.0.1:8001",
        f"CARTLY_CLIENT_ID={result.client_id}",
        f"CARTLY_CLIENT_SECRET={result.client_secret}",
    ]
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600


def test_the_seeded_login_and_app_get_a_token_over_http(live_server):
    result = seed([CALLBACK])
    browser = log_in(live_server.url, result.username, result.password)
    verifier, challenge = pkce_pair()
    url = authorize_url(live_server.url, result.client_id, challenge, redirect_uri=CALLBACK)
    page = browser.get(url)
    assert "Cartly Automations" in page.text and "demo.mycartly.pro" in page.text
    answer = press(browser, url, approve=True)
    code = callback(answer, CALLBACK)["code"]
    tokens = requests.post(
        f"{live_server.url}/oauth/token/",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "code_verifier": verifier,
        },
        auth=(result.client_id, result.client_secret),
    )
    assert tokens.status_code == 200, tokens.text
    assert AccessToken.objects.get().user.username == "merchant"
