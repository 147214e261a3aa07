"""Who is calling: the bearer token, its app, its scopes and the shop it acts on.

cartly-api.md: every call sends `Authorization: Bearer ACCESS_TOKEN`; a bad token is 401
`invalid_token` with `WWW-Authenticate: Bearer error="invalid_token"`, a missing scope is 403
`insufficient_scope`.
"""

import hashlib
from dataclasses import dataclass

from django.http import HttpRequest
from oauth2_provider.models import AbstractApplication, get_access_token_model

from sandbox.errors import InsufficientScope, InvalidToken
from sandbox.models import Shop

INVALID_TOKEN_CHALLENGE = 'Bearer error="invalid_token"'


@dataclass(frozen=True)
class Caller:
    """An authenticated call: the app behind the token and the one shop its user owns."""

    application: AbstractApplication
    shop: Shop
    scopes: frozenset[str]


def _invalid(message: str) -> InvalidToken:
    return InvalidToken(message, **{"WWW-Authenticate": INVALID_TOKEN_CHALLENGE})


def _bearer(request: HttpRequest) -> str:
    scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
    raw = raw.strip()
    if scheme.lower() != "bearer" or not raw:
        raise _invalid("Send the access token as `Authorization: Bearer <token>`.")
    return raw


def _load_token(raw: str):
    # django-oauth-toolkit 3.x finds tokens by the SHA-256 of the raw value (its
    # TokenChecksumField; OAuth2Validator._load_access_token does the same), which also works
    # when the token column is redacted at rest.
    checksum = hashlib.sha256(raw.encode("utf-8")).hexdigest()
    model = get_access_token_model()
    tokens = model.objects.select_related("application", "user")
    return tokens.filter(token_checksum=checksum).first()


def authenticate(request: HttpRequest) -> Caller:
    """The caller of this request, or InvalidToken (401) for a missing/unknown/expired token.

    A revoked token is deleted by django-oauth-toolkit, so it is simply unknown here.
    """
    token = _load_token(_bearer(request))
    if token is None:
        raise _invalid("The access token is unknown or has been revoked.")
    if token.is_expired():
        raise _invalid("The access token has expired; refresh it.")
    app, user = token.application, token.user
    if app is None or user is None or not user.is_active or not app.is_usable(request):
        raise _invalid("The access token is not valid for this API.")
    shop = Shop.objects.filter(owner=user).first()
    if shop is None:
        raise _invalid("The access token's user has no shop.")
    return Caller(application=app, shop=shop, scopes=frozenset(token.scope.split()))


def require_scope(caller: Caller, scope: str) -> None:
    if scope not in caller.scopes:
        raise InsufficientScope(
            f"This call needs the {scope} scope; ask the merchant to grant it.",
            **{"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope}"'},
        )
