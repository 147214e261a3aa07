"""Signals the engine sends, so notifications and other listeners stay out of the runner."""

from django.dispatch import Signal

# Sent with `run` after the transaction that marked it failed has committed.
run_failed = Signal()
