"""Logging filters: nothing secret reaches a log line.

A REST Hook's URL holds its subscription's unguessable token, and that token is what lets a
caller deliver to us; Django's request logs (`django.request` for 4xx/5xx answers,
`django.server` for runserver's access lines) would print it with the path.
"""

import logging
import re

HOOK_PATH = re.compile(r"(/hooks/cartly/)[^/\s\"']+")


class HideHookTokens(logging.Filter):
    """Keep the record, with every hook token in its message replaced by "…"."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "/hooks/cartly/" in message:
            record.msg, record.args = HOOK_PATH.sub(r"\1…", message), None
        return True
