"""Connections: which shops the caller has connected (never their tokens)."""

from django.http import HttpRequest
from ninja import Router

from automations.api.schemas import ConnectionOut
from connectors.models import Connection

router = Router(tags=["connections"])


@router.get("/connections", response=list[ConnectionOut])
def list_connections(request: HttpRequest):
    return Connection.objects.filter(owner=request.auth)
