"""The OAuth 2.0 server over real HTTP (cartly-api.md "OAuth 2.0"): consent, tokens, revocation.

A requests.Session plays the merchant's browser (log in, open the consent page, press a
button); plain requests.post calls play the engine at the token and revocation endpoints.
"""

import base64
import hashlib
import secrets
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from django.contrib.auth.models import User
from oauth2_provider.models import AccessToken, Grant, RefreshToken

from sandbox.tests.conftest import CLIENT_SECRET

REDIRECT_URI = "http://127.0.0.1:9999/callback/"  # the conftest app's registered URI
MERCHANT_PASSWORD = "merchant-pass-123"  # the conftest merchant's
SCOPE = "read_shop read_orders webhooks"
STATE = "state-4f2a"


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # Every test logs in; the default PBKDF2 cost would dominate the run time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


class HiddenInputs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.fields: dict[str, str] = {}
        self.buttons: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input" and attrs.get("type") == "hidden" and attrs.get("name"):
            self.fields[attrs["name"]] = attrs.get("value") or ""
        if tag == "button":
            self.buttons.append(attrs.get("name") or "")


def parse_form(html: str) -> HiddenInputs:
    parser = HiddenInputs()
    parser.feed(html)
    return parser


def log_in(base: str, username: str, password: str) -> requests.Session:
    browser = requests.Session()
    page = browser.get(f"{base}/login/")
    answer = browser.post(
        f"{base}/login/",
        data={
            "csrfmiddlewaretoken": parse_form(page.text).fields["csrfmiddlewaretoken"],
            "username": username,
            "password": password,
        },
        allow_redirects=False,
    )
    assert answer.status_code == 302, answer.text
    assert "sandbox_sessionid" in browser.cookies
    return browser


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def authorize_url(base: str, client_id: str, challenge: str | None, **overrides) -> str:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": SCOPE,
        "state": STATE,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    params.update(overrides)
    return f"{base}/oauth/authorize/?" + urlencode({k: v for k, v in params.items() if v})


def press(browser: requests.Session, url: str, approve: bool, **tamper) -> requests.Response:
    """Open the consent page and press Approve or Deny (optionally with edited hidden fields)."""
    page = browser.get(url, allow_redirects=False)
    assert page.status_code == 200, page.text
    fields = parse_form(page.text).fields | tamper
    if approve:
        fields["allow"] = "Authorize"
    return browser.post(url, data=fields, allow_redirects=False)


def callback(answer: requests.Response, redirect_uri: str = REDIRECT_URI) -> dict[str, str]:
    """The query of a redirect back to the app, one value per key."""
    assert answer.status_code == 302, answer.text
    location = answer.headers["Location"]
    assert location.startswith(redirect_uri + "?"), location
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


def token_call(base: str, client_id: str, **data) -> requests.Response:
    return requests.post(f"{base}/oauth/token/", data=data, auth=(client_id, CLIENT_SECRET))


def call_me(base: str, access_token: str) -> requests.Response:
    """GET /apps/api/me, the contract's "who am I", with a bearer token."""
    return requests.get(f"{base}/apps/api/me", headers={"Authorization": f"Bearer {access_token}"})


def stored_access_token(raw: str) -> AccessToken | None:
    # Looked up by checksum, as django-oauth-toolkit and the API's auth do.
    checksum = hashlib.sha256(raw.encode("utf-8")).hexdigest()
    return AccessToken.objects.filter(token_checksum=checksum).first()


@pytest.fixture
def browser(live_server, shop) -> requests.Session:
    return log_in(live_server.url, "merchant", MERCHANT_PASSWORD)


@pytest.fixture
def get_code(live_server, browser, app):
    """Run the consent step; returns (code, verifier)."""

    def run() -> tuple[str, str]:
        verifier, challenge = pkce_pair()
        answer = press(browser, authorize_url(live_server.url, app.client_id, challenge), True)
        params = callback(answer)
        assert params["state"] == STATE
        return params["code"], verifier

    return run


def exchange(live_server, app, code: str, verifier: str) -> requests.Response:
    return token_call(
        live_server.url,
        app.client_id,
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT_URI,
        code_verifier=verifier,
    )


# --- the consent page -------------------------------------------------------------------------


def test_it_sends_a_visitor_to_log_in_first(live_server, app):
    url = authorize_url(live_server.url, app.client_id, pkce_pair()[1])
    answer = requests.get(url, allow_redirects=False)
    assert answer.status_code == 302
    location = urlsplit(answer.headers["Location"])
    assert location.path == "/login/"
    assert parse_qs(location.query)["next"][0].startswith("/oauth/authorize/?")


def test_the_consent_page_names_the_app_the_shop_and_each_scope(live_server, browser, app):
    page = browser.get(authorize_url(live_server.url, app.client_id, pkce_pair()[1]))
    assert page.status_code == 200
    assert "Test Automations" in page.text
    assert "test.mycartly.pro" in page.text
    assert "See your orders" in page.text and "read_orders" in page.text
    assert "Receive notifications when things happen in your shop" in page.text
    assert "Change orders" not in page.text  # write_orders was not asked for
    assert ">Approve</button>" in page.text and ">Deny</button>" in page.text


def test_denying_sends_access_denied_and_the_state_back(live_server, browser, app):
    url = authorize_url(live_server.url, app.client_id, pkce_pair()[1])
    params = callback(press(browser, url, approve=False))
    assert params["error"] == "access_denied"
    assert params["state"] == STATE
    assert "code" not in params
    assert not Grant.objects.exists()


def test_a_merchant_without_a_shop_cannot_approve(live_server, app):
    User.objects.create_user("shopless", password="shopless-pass-123")
    browser = log_in(live_server.url, "shopless", "shopless-pass-123")
    url = authorize_url(live_server.url, app.client_id, pkce_pair()[1])
    page = browser.get(url)
    assert "This login has no shop, so it cannot approve an app." in page.text
    assert "allow" not in parse_form(page.text).buttons
    # Even a hand-made approval is refused, back to the app, with no code issued.
    params = callback(press(browser, url, approve=True))
    assert params["error"] == "access_denied"
    assert params["state"] == STATE
    assert not Grant.objects.exists()


def test_it_refuses_unknown_scopes(live_server, browser, app):
    url = authorize_url(live_server.url, app.client_id, pkce_pair()[1], scope="read_orders admin")
    params = callback(browser.get(url, allow_redirects=False))
    assert params["error"] == "invalid_scope"
    assert params["state"] == STATE


def test_it_never_redirects_to_an_unregistered_redirect_uri(live_server, browser, app):
    url = authorize_url(
        live_server.url, app.client_id, pkce_pair()[1], redirect_uri="http://evil.test/cb"
    )
    page = browser.get(url, allow_redirects=False)
    assert page.status_code == 400
    assert "This app cannot be connected" in page.text
    assert "Mismatching redirect URI" in page.text


# --- PKCE ---------------------------------------------------------------------------------------


def test_it_refuses_a_missing_code_challenge(live_server, browser, app):
    url = authorize_url(live_server.url, app.client_id, None, code_challenge_method=None)
    params = callback(browser.get(url, allow_redirects=False))
    assert params["error"] == "invalid_request"
    assert params["state"] == STATE


@pytest.mark.parametrize("method", ["plain", None])  # no method means "plain" (RFC 7636 §4.3)
def test_it_refuses_plain_pkce(live_server, browser, app, method):
    verifier = secrets.token_urlsafe(48)
    url = authorize_url(live_server.url, app.client_id, verifier, code_challenge_method=method)
    params = callback(browser.get(url, allow_redirects=False))
    assert params["error"] == "invalid_request"
    assert "S256" in params["error_description"]
    assert params["state"] == STATE


def test_it_refuses_plain_pkce_slipped_into_the_approval(live_server, browser, app):
    verifier, challenge = pkce_pair()
    url = authorize_url(live_server.url, app.client_id, challenge)
    answer = press(browser, url, True, code_challenge=verifier, code_challenge_method="plain")
    assert callback(answer)["error"] == "invalid_request"
    assert not Grant.objects.exists()


# --- the token endpoint ---------------------------------------------------------------------


def test_the_whole_flow_ends_in_a_working_token_and_a_rotating_refresh(
    live_server, app, merchant, get_code, settings
):
    code, verifier = get_code()
    answer = exchange(live_server, app, code, verifier)
    assert answer.status_code == 200, answer.text
    tokens = answer.json()
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == settings.OAUTH2_PROVIDER["ACCESS_TOKEN_EXPIRE_SECONDS"]
    assert tokens["scope"] == SCOPE
    stored = stored_access_token(tokens["access_token"])
    assert stored.user == merchant and stored.application == app
    assert stored.is_valid(["read_orders"]) and not stored.allow_scopes(["write_orders"])
    me = call_me(live_server.url, tokens["access_token"])
    assert me.status_code == 200, me.text
    assert me.json()["shop"]["domain"] == "test.mycartly.pro"

    answer = token_call(
        live_server.url,
        app.client_id,
        grant_type="refresh_token",
        refresh_token=tokens["refresh_token"],
    )
    assert answer.status_code == 200, answer.text
    renewed = answer.json()
    assert renewed["refresh_token"] != tokens["refresh_token"]
    assert renewed["scope"] == SCOPE
    assert stored_access_token(renewed["access_token"]).is_valid(["webhooks"])
    assert stored_access_token(tokens["access_token"]) is None  # the old pair is gone
    assert call_me(live_server.url, tokens["access_token"]).status_code == 401
    assert call_me(live_server.url, renewed["access_token"]).status_code == 200


def test_it_refuses_a_wrong_code_verifier(live_server, app, get_code):
    code, _verifier = get_code()
    answer = exchange(live_server, app, code, pkce_pair()[0])
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"
    assert not AccessToken.objects.exists()


def test_it_refuses_a_reused_code(live_server, app, get_code):
    code, verifier = get_code()
    assert exchange(live_server, app, code, verifier).status_code == 200
    again = exchange(live_server, app, code, verifier)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    assert AccessToken.objects.count() == 1


def test_it_refuses_a_spent_refresh_token(live_server, app, get_code):
    code, verifier = get_code()
    spent = exchange(live_server, app, code, verifier).json()["refresh_token"]
    refresh = {"grant_type": "refresh_token", "refresh_token": spent}
    assert token_call(live_server.url, app.client_id, **refresh).status_code == 200
    again = token_call(live_server.url, app.client_id, **refresh)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    assert AccessToken.objects.count() == 1


def test_it_refuses_a_client_with_the_wrong_secret(live_server, app, get_code):
    code, verifier = get_code()
    answer = requests.post(
        f"{live_server.url}/oauth/token/",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
        },
        auth=(app.client_id, "not-the-secret"),
    )
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"
    assert not AccessToken.objects.exists()


# --- revocation (RFC 7009) ---------------------------------------------------------------------


def test_a_revoked_access_token_no_longer_authenticates(live_server, app, get_code):
    code, verifier = get_code()
    tokens = exchange(live_server, app, code, verifier).json()
    assert call_me(live_server.url, tokens["access_token"]).status_code == 200
    answer = requests.post(
        f"{live_server.url}/oauth/revoke_token/",
        data={"token": tokens["access_token"], "token_type_hint": "access_token"},
        auth=(app.client_id, CLIENT_SECRET),
    )
    assert answer.status_code == 200
    assert stored_access_token(tokens["access_token"]) is None
    refused = call_me(live_server.url, tokens["access_token"])
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_token"


def test_a_revoked_refresh_token_cannot_be_spent(live_server, app, get_code):
    code, verifier = get_code()
    tokens = exchange(live_server, app, code, verifier).json()
    answer = requests.post(
        f"{live_server.url}/oauth/revoke_token/",
        data={"token": tokens["refresh_token"], "token_type_hint": "refresh_token"},
        auth=(app.client_id, CLIENT_SECRET),
    )
    assert answer.status_code == 200
    assert RefreshToken.objects.get().revoked is not None
    assert stored_access_token(tokens["access_token"]) is None  # revoked along with it
    refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    assert token_call(live_server.url, app.client_id, **refresh).status_code == 400
