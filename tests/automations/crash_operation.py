"""A test-only action that stops the process running it: how a fault test makes a poison step.

"Adjust inventory, unless told to crash": with `crash` set to "yes" it sends SIGKILL to its own
process before any call, as a segfaulting library or the kernel's OOM killer would; otherwise it
adjusts a variant's stock in the sandbox like `cartly.adjust_inventory`, so the test can see
that every other step of its batch applied exactly once. It is registered only in test
processes: the worker settings module of fault tests (worker_settings.py) and the `crash_step`
fixture of the test process. Nothing in the engine knows it.
"""

from __future__ import annotations

import os
import signal
from typing import Any

from connectors import registry
from connectors.base import Action, Field, FieldType

KEY = "faults.crash_or_adjust"


def crash_or_adjust(client, inputs: dict[str, Any], idempotency_key: str) -> dict:
    if inputs.get("crash") == "yes":
        os.kill(os.getpid(), signal.SIGKILL)
    return client.set_inventory(
        inputs["variant_id"], adjustment=inputs["quantity"], idempotency_key=idempotency_key
    )


CRASH_OR_ADJUST = Action(
    key=KEY,
    noun="Inventory",
    label="Adjust Inventory or Crash (tests)",
    description="Kills its own worker process when told to; otherwise adjusts a variant.",
    input_fields=(
        Field(key="variant_id", label="Variant ID", required=True),
        Field(key="quantity", label="Quantity", type=FieldType.INTEGER, required=True),
        Field(
            key="crash", label="Crash", type=FieldType.CHOICE, choices=("no", "yes"), default="no"
        ),
    ),
    perform=crash_or_adjust,
    scopes=("write_inventory",),
    sample={"variant_id": "var_SAMPLE", "available": 1},
)


def register() -> None:
    registry.register(CRASH_OR_ADJUST)


def unregister() -> None:
    # The registry has no public removal (production never needs one); the test process takes
    # its own registration back so later tests see the real catalogue only.
    registry._operations.pop(KEY, None)  # noqa: SLF001
