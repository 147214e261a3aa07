"""The JSON API (django-ninja): recipes, runs and connections, by API token.

OpenAPI schema at /api/schema/, interactive docs at /api/docs/. Every error is JSON with a
`detail` message; an invalid recipe document is a 422 with every problem listed.
"""

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI, Swagger
from ninja.errors import AuthenticationError

from automations.api import connections, recipes, runs
from automations.api.auth import ApiTokenAuth
from automations.documents import InvalidDocument

api = NinjaAPI(
    title="Cartly Automations API",
    version="1",
    description="Recipes, runs and connections. Authenticate with `Authorization: Bearer "
    "<api token>` (`manage.py create_api_token --user U`).",
    auth=ApiTokenAuth(),
    urls_namespace="api",
    openapi_url="/schema/",
    docs_url="/docs/",
    # Swagger UI's assets come from django-ninja's static files ("ninja" in INSTALLED_APPS);
    # no validator badge either, which would call validator.swagger.io from the browser.
    docs=Swagger(settings={"validatorUrl": None}),
)
api.add_router("/", recipes.router)
api.add_router("/", runs.router)
api.add_router("/", connections.router)


@api.exception_handler(AuthenticationError)
def unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = api.create_response(
        request,
        {"detail": "Send a valid API token: Authorization: Bearer <token>"},
        status=401,
    )
    response["WWW-Authenticate"] = "Bearer"
    return response


@api.exception_handler(InvalidDocument)
def invalid_document(request: HttpRequest, exc: InvalidDocument) -> HttpResponse:
    count = len(exc.problems)
    body = {
        "detail": f"The recipe document has {count} problem{'s' if count != 1 else ''}",
        "problems": [p.as_dict() for p in exc.problems],
    }
    return api.create_response(request, body, status=422)
