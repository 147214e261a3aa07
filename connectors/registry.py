"""Every trigger, action and search the engine knows, by the key recipes store.

Catalogue modules register their declarations when imported; the registry imports them on
first use, so callers need no import order and the engine names no connector.
"""

from __future__ import annotations

import importlib
from typing import TypeVar

from connectors.base import Action, Operation, Search, Trigger

# Modules whose import registers a connector's operations; a new connector adds one line.
CATALOGUES: tuple[str, ...] = ("connectors.cartly.catalogue", "connectors.http.catalogue")

_operations: dict[str, Operation] = {}
_loaded = False

T = TypeVar("T", Trigger, Action, Search)


class UnknownOperation(KeyError):
    """No operation of that key (and kind): a recipe names something this build lacks."""

    def __init__(self, key: str, kind: str = "operation"):
        super().__init__(key)
        self.key = key
        self.kind = kind

    def __str__(self) -> str:
        # KeyError's own str() is repr(key), which reads badly in a run's failure reason.
        return f"Unknown {self.kind} {self.key!r}"


def register(operation: Operation) -> Operation:
    """Add one declaration; a second, different one under the same key is a bug."""
    existing = _operations.get(operation.key)
    if existing is not None and existing is not operation:
        raise ValueError(f"Operation key {operation.key!r} is already registered")
    _operations[operation.key] = operation
    return operation


def _ensure_loaded() -> None:
    global _loaded
    if not _loaded:
        for module in CATALOGUES:
            importlib.import_module(module)
        _loaded = True


def get(key: str) -> Operation:
    _ensure_loaded()
    try:
        return _operations[key]
    except KeyError:
        raise UnknownOperation(key) from None


def _get_kind(key: str, kind: type[T]) -> T:
    operation = get(key)
    if not isinstance(operation, kind):
        raise UnknownOperation(key, kind.__name__.lower())
    return operation


def get_trigger(key: str) -> Trigger:
    return _get_kind(key, Trigger)


def get_action(key: str) -> Action:
    return _get_kind(key, Action)


def get_search(key: str) -> Search:
    return _get_kind(key, Search)


def operations() -> list[Operation]:
    """Every declaration, in registration order (the catalogue's own order)."""
    _ensure_loaded()
    return list(_operations.values())


def triggers() -> list[Trigger]:
    return [op for op in operations() if isinstance(op, Trigger)]


def actions() -> list[Action]:
    return [op for op in operations() if isinstance(op, Action)]


def searches() -> list[Search]:
    return [op for op in operations() if isinstance(op, Search)]


def triggers_for_event(event: str) -> list[Trigger]:
    """The triggers a delivery of `event` (e.g. "order.created") can start."""
    return [t for t in triggers() if t.event == event]
