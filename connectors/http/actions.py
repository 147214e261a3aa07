"""The HTTP step, "Send to another system": one request to any public http(s) address.

Its inputs are templates like every step's; `connectors/convert.py` types them and the client
(`client.py`) checks them, sends the request and answers `{"status", "headers", "body"}`, the
body parsed when it is JSON, so later steps can use `steps.<key>.body.<field>`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from connectors.base import Action, Field, FieldType, OutputField, load_sample
from connectors.http import request as outgoing
from connectors.http.client import HttpClient

SAMPLES = Path(__file__).resolve().parent / "samples"


def send_request(client: HttpClient, inputs: dict[str, Any], idempotency_key: str) -> dict:
    return client.perform(inputs, idempotency_key)


http_request = Action(
    key="http.request",
    noun="Request",
    label="Send to another system",
    description=(
        "Calls an address of yours (a webhook, an API) with the data you map. Only public "
        "http(s) addresses; the answer's status, headers and body are kept for later steps."
    ),
    app="http",
    input_fields=(
        Field(
            key="method",
            label="Method",
            type=FieldType.CHOICE,
            choices=outgoing.METHODS,
            required=True,
            default="POST",
        ),
        Field(
            key="url",
            label="URL",
            required=True,
            help="http:// or https://, e.g. https://example.com/hooks/orders",
        ),
        Field(
            key="headers",
            label="Headers",
            type=FieldType.TEXT,
            help="One per line, e.g. Authorization: Bearer … (Host, Content-Length and our "
            "own Idempotency-Key and signature headers are set by the step).",
        ),
        Field(
            key="body_type",
            label="Body type",
            type=FieldType.CHOICE,
            choices=outgoing.BODY_TYPES,
            required=True,
            default=outgoing.BODY_JSON,
            help="json: the body must be valid JSON once filled in; form: key=value lines.",
        ),
        Field(key="body", label="Body", type=FieldType.TEXT),
        Field(
            key="sign",
            label="Sign the request",
            type=FieldType.BOOLEAN,
            default="no",
            help=f"Adds {outgoing.SIGNATURE_HEADER} so your system can check the request is "
            "ours (your signing secret is on the Signing secret page).",
        ),
        Field(
            key="timeout_seconds",
            label="Timeout (seconds)",
            type=FieldType.INTEGER,
            default=str(outgoing.DEFAULT_TIMEOUT_SECONDS),
            help=f"{outgoing.MIN_TIMEOUT_SECONDS} to {outgoing.MAX_TIMEOUT_SECONDS}; slower "
            "answers count as a failure and are tried again.",
        ),
    ),
    perform=send_request,
    output_fields=(
        OutputField("status", "Status code"),
        OutputField("headers", "Answer headers"),
        OutputField("headers.content_type", "Answer content type"),
        OutputField("body", "Answer body"),
    ),
    sample=load_sample(SAMPLES, "request__send"),
)

ACTIONS = (http_request,)
