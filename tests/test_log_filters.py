"""No log line carries a REST Hook's token: the path is logged, its secret part is not."""

import logging

from django.test import Client


def test_a_refused_delivery_is_logged_without_its_token(caplog, db):
    token = "s3cret-token-that-must-not-be-logged"
    with caplog.at_level(logging.WARNING, logger="django.request"):
        Client().post(f"/hooks/cartly/{token}/", b"{}", content_type="application/json")

    logged = " ".join(record.getMessage() for record in caplog.records)
    assert "/hooks/cartly/" in logged
    assert token not in logged
