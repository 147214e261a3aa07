"""Cartly's OAuth 2.0 endpoints through requests-oauthlib: authorization code + PKCE S256,
refresh (tokens rotate) and revocation (cartly-api.md, "OAuth 2.0")."""

from dataclasses import dataclass

import requests
from django.conf import settings
from oauthlib.oauth2 import OAuth2Error, WebApplicationClient
from requests.auth import HTTPBasicAuth
from requests_oauthlib import OAuth2Session

from connectors.cartly.constants import AUTHORIZE_PATH, CARTLY_SCOPES, REVOKE_PATH, TOKEN_PATH
from connectors.errors import Permanent, Transient

PKCE_VERIFIER_LENGTH = 64  # RFC 7636 allows 43–128 characters


class OAuthRefused(Permanent):
    """Cartly refused the grant (a denied consent, a spent or revoked refresh token)."""

    def __init__(self, message: str, error: str = ""):
        super().__init__(message)
        self.error = error


@dataclass(frozen=True)
class AuthorizationStart:
    url: str
    state: str
    code_verifier: str


def _url(path: str) -> str:
    return settings.CARTLY_BASE_URL + path


def _client_auth() -> HTTPBasicAuth:
    return HTTPBasicAuth(settings.CARTLY_CLIENT_ID, settings.CARTLY_CLIENT_SECRET)


def _reject_server_errors(response: requests.Response) -> requests.Response:
    # oauthlib would try to parse an HTML 502 as a token; a server error is worth a retry.
    if response.status_code >= 500:
        raise Transient(f"Cartly's sign-in service answered {response.status_code}; try again.")
    return response


def _session(redirect_uri: str | None = None, state: str | None = None) -> OAuth2Session:
    session = OAuth2Session(
        client_id=settings.CARTLY_CLIENT_ID,
        redirect_uri=redirect_uri,
        scope=list(CARTLY_SCOPES),
        state=state,
    )
    session.register_compliance_hook("access_token_response", _reject_server_errors)
    session.register_compliance_hook("refresh_token_response", _reject_server_errors)
    return session


def start_authorization(redirect_uri: str) -> AuthorizationStart:
    """The consent page URL, with a fresh state and PKCE verifier to keep in the session."""
    pkce = WebApplicationClient(settings.CARTLY_CLIENT_ID)
    verifier = pkce.create_code_verifier(PKCE_VERIFIER_LENGTH)
    challenge = pkce.create_code_challenge(verifier, "S256")
    url, state = _session(redirect_uri).authorization_url(
        _url(AUTHORIZE_PATH), code_challenge=challenge, code_challenge_method="S256"
    )
    return AuthorizationStart(url=url, state=state, code_verifier=verifier)


def _call(fn, *args, **kwargs) -> dict:
    try:
        return dict(fn(*args, timeout=settings.CARTLY_TIMEOUT_SECONDS, **kwargs))
    except OAuth2Error as exc:
        raise OAuthRefused(exc.description or exc.error, error=exc.error) from None
    except Warning as exc:
        # oauthlib warns (raises) when the granted scope differs from the asked one; the
        # token is good, and the connection stores the scope Cartly granted.
        token = getattr(exc, "token", None)
        if token is None:
            raise OAuthRefused(str(exc)) from None
        return dict(token)
    except requests.RequestException as exc:
        raise Transient(f"Cartly could not be reached ({type(exc).__name__}).") from None


def exchange_code(code: str, redirect_uri: str, code_verifier: str) -> dict:
    """Trade the callback's code for tokens (the caller has already checked `state`)."""
    return _call(
        _session(redirect_uri).fetch_token,
        _url(TOKEN_PATH),
        code=code,
        auth=_client_auth(),
        include_client_id=False,
        code_verifier=code_verifier,
    )


def refresh(refresh_token: str) -> dict:
    """Spend a refresh token for a new pair; the old refresh token is dead afterwards."""
    return _call(
        _session().refresh_token,
        _url(TOKEN_PATH),
        refresh_token=refresh_token,
        auth=_client_auth(),
    )


def revoke(token: str, hint: str = "access_token") -> None:
    """RFC 7009 revocation; Cartly answers 200 even for unknown tokens."""
    try:
        response = requests.post(
            _url(REVOKE_PATH),
            data={"token": token, "token_type_hint": hint},
            auth=_client_auth(),
            timeout=settings.CARTLY_TIMEOUT_SECONDS,
        )
    except requests.RequestException as exc:
        raise Transient(f"Cartly could not be reached ({type(exc).__name__}).") from None
    if response.status_code >= 500:
        raise Transient(f"Cartly's sign-in service answered {response.status_code}.")
