"""The sandbox's OAuth 2.0 server: django-oauth-toolkit, held to cartly-api.md "OAuth 2.0".

Two small additions to DOT's stock behaviour:
- PKCE must use S256. oauthlib also accepts "plain" (and assumes it when the method is left
  out); DOT only refuses it after the merchant approves, and only behind a BCP setting. We
  refuse it before the consent page is shown, through oauthlib's own pre-auth validator hook.
- An approval needs a shop: the API resolves a token's shop through its user, so a login
  without one must not get a code. The consent view says so; the server enforces it.
"""

from oauth2_provider.views import AuthorizationView
from oauthlib.oauth2 import Server as OAuthlibServer
from oauthlib.oauth2.rfc6749 import errors

from sandbox.models import Shop

PKCE_METHOD = "S256"  # cartly-api.md: "with PKCE S256, RFC 7636"
NO_SHOP_MESSAGE = "This login has no shop, so it cannot approve an app."


def shop_of(user) -> Shop | None:
    if not getattr(user, "is_authenticated", False):
        return None
    return Shop.objects.filter(owner=user).first()


def require_s256(request) -> dict:
    """Refuse a code challenge whose method is not S256 (a missing method means "plain").

    A missing challenge is left to oauthlib, which refuses it because PKCE_REQUIRED is set.
    """
    if request.code_challenge is not None and request.code_challenge_method != PKCE_METHOD:
        raise errors.UnsupportedCodeChallengeMethodError(
            description='Only the "S256" code_challenge_method is supported.', request=request
        )
    return {}


def require_shop(request) -> dict:
    """Refuse to issue a code to a merchant without a shop.

    oauthlib re-validates the request when the merchant approves, with `request.user` set
    (it is None while the consent page is only being shown).
    """
    user = getattr(request, "user", None)
    if user is not None and shop_of(user) is None:
        raise errors.AccessDeniedError(description=NO_SHOP_MESSAGE, request=request)
    return {}


class Server(OAuthlibServer):
    """oauthlib's all-grants server with our pre-auth checks (OAUTH2_SERVER_CLASS)."""

    def __init__(self, request_validator, *args, **kwargs):
        super().__init__(request_validator, *args, **kwargs)
        self.auth_grant.custom_validators.pre_auth.extend([require_s256, require_shop])


class ConsentView(AuthorizationView):
    """DOT's authorization view, with the shop and each scope's description on the page."""

    def get_context_data(self, **kwargs) -> dict:
        context = super().get_context_data(**kwargs)
        context["shop"] = shop_of(self.request.user)
        context["no_shop_message"] = NO_SHOP_MESSAGE
        # DOT passes scopes and their descriptions as two parallel lists.
        context["scope_rows"] = list(
            zip(kwargs.get("scopes", []), kwargs.get("scopes_descriptions", []), strict=False)
        )
        return context
