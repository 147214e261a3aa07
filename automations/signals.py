"""Signals the engine sends, so notifications and other listeners stay out of the runner."""

from django.dispatch import Signal

# Sent with `run` after the transaction that marked it failed has committed.
run_failed = Signal()
# Sent with `recipe_id` when a recipe failed its "switch off after N failures" number of runs
# in a row; automations.signal_handlers switches it off and tells the merchant.
recipe_tripped = Signal()
