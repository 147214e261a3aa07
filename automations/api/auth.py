"""API authentication: `Authorization: Bearer <api token>` (accounts.ApiToken)."""

from django.http import HttpRequest
from ninja.security import HttpBearer

from accounts.models import ApiToken


class ApiTokenAuth(HttpBearer):
    """The token's user becomes `request.auth`; an unknown or malformed token is a 401."""

    def authenticate(self, request: HttpRequest, token: str):
        return ApiToken.authenticate(token)
