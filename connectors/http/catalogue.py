"""Registers the HTTP step; `connectors.registry` imports this."""

from connectors import registry
from connectors.http.actions import ACTIONS

for _operation in ACTIONS:
    registry.register(_operation)
