"""Registers every Cartly trigger, action and search; `connectors.registry` imports this."""

from connectors import registry
from connectors.cartly.actions import ACTIONS
from connectors.cartly.searches import SEARCHES
from connectors.cartly.triggers import TRIGGERS

for _operation in (*TRIGGERS, *ACTIONS, *SEARCHES):
    registry.register(_operation)
