"""Emails to merchants: a run failed, a shop needs reconnecting, or a test they asked for.

At most one email per recipe (or per shop) in QUIET_PERIOD: a shop with a broken recipe can fail
hundreds of runs an hour, and one email that links to the run history says all of it. Each send
is a Notification row; the check and the row are taken under a lock on the recipe (or
connection) row, so two workers failing runs of one recipe at once still send one email.

Nothing secret goes into an email: only names, the failure in plain words and links. Emails go
only to an address its user confirmed (notifications/confirmation.py).
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from automations.models import Recipe, Run, StepRun
from connectors import registry
from connectors.models import Connection
from notifications.confirmation import confirmed_recipient
from notifications.models import Notification

log = logging.getLogger(__name__)

QUIET_PERIOD = timedelta(hours=1)
SIGN_OFF = "\n\n— Cartly Automations\n"


def absolute(path: str) -> str:
    return settings.PUBLIC_BASE_URL + path


def sent_recently(kind: str, **about) -> bool:
    since = timezone.now() - QUIET_PERIOD
    return Notification.objects.filter(kind=kind, sent_at__gte=since, **about).exists()


def deliver(user, kind: str, subject: str, body: str, **about) -> Notification | None:
    """Send one email to `user`'s confirmed address and record it; None without one (raises
    if the email backend fails)."""
    recipient = confirmed_recipient(user)
    if recipient is None:
        return None
    note = Notification.objects.create(
        user=user, kind=kind, recipient=recipient, subject=subject, **about
    )
    send_mail(subject, body + SIGN_OFF, None, [recipient])
    return note


def _trigger_words(run: Run) -> str:
    payload = run.event.payload if isinstance(run.event.payload, dict) else {}
    number = payload.get("number")
    what = f"order #{number}" if number else (run.event.object_id or "an event")
    return f"{what} ({run.event.event_type})"


def _field_label(step: StepRun, name: str) -> str:
    try:
        fields = {f.key: f.label for f in registry.get(step.operation).input_fields}
    except (registry.UnknownOperation, AttributeError):
        fields = {}
    return fields.get(name, name)


def _clash_lines(step: StepRun) -> list[str]:
    """Cartly's per-field messages, each with the value we sent: what clashed, named once."""
    fields = step.error_fields if isinstance(step.error_fields, dict) else {}
    sent = step.rendered_input if isinstance(step.rendered_input, dict) else {}
    lines = []
    for name, messages in fields.items():
        text = "; ".join(map(str, messages)) if isinstance(messages, list) else str(messages)
        value = sent.get(name)
        shown = f" “{value}”" if value not in (None, "") else ""
        lines.append(f"  - {_field_label(step, name)}{shown}: {text}")
    return lines


def _failure_words(run: Run) -> str:
    """The failure said once: the run's reason, the step's own words only if the reason lacks
    them, then the values Cartly refused."""
    reason = run.failure_reason or "The run stopped with an error."
    lines = [f"What went wrong: {reason}"]
    step = StepRun.objects.filter(run=run, status=StepRun.Status.FAILED).first()
    if step is None:
        return lines[0]
    if step.error and step.error not in reason:
        lines.append(f"Step {step.position + 1} ({step.key}) said: {step.error}")
    clashes = _clash_lines(step)
    if clashes:
        lines.append("Cartly refused " + ("this value:" if len(clashes) == 1 else "these values:"))
        lines += clashes
    return "\n".join(lines)


def run_failed_email(run: Run) -> tuple[str, str]:
    recipe = run.recipe
    subject = f"Your recipe “{recipe.name}” failed"
    history = reverse("runs:list") + f"?recipe={recipe.pk}&status=failed"
    body = (
        f"Hello {run.recipe.owner.get_username()},\n\n"
        f"Your recipe “{recipe.name}” failed while handling {_trigger_words(run)}.\n\n"
        f"{_failure_words(run)}\n"
        f"\nSee the run, fix the recipe or replay it:\n"
        f"{absolute(reverse('runs:detail', args=[run.pk]))}\n\n"
        f"We send at most one email per recipe an hour. Later failures are in your run "
        f"history:\n{absolute(history)}"
    )
    return subject, body


def notify_run_failed(run: Run) -> Notification | None:
    """Email the recipe's owner about a failed run, unless we did for this recipe lately."""
    run = Run.objects.select_related("recipe__owner", "event").get(pk=run.pk)
    user = run.recipe.owner
    if confirmed_recipient(user) is None:
        return None
    with transaction.atomic():
        Recipe.objects.select_for_update().filter(pk=run.recipe_id).first()
        if sent_recently(Notification.Kind.RUN_FAILED, recipe_id=run.recipe_id):
            return None
        subject, body = run_failed_email(run)
        return deliver(
            user, Notification.Kind.RUN_FAILED, subject, body, recipe=run.recipe, run=run
        )


def reconnect_email(connection: Connection) -> tuple[str, str]:
    subject = f"Please reconnect your shop “{connection.shop_name}”"
    reason = connection.status_reason or "Cartly no longer accepts our access to the shop."
    body = (
        f"Hello {connection.owner.get_username()},\n\n"
        f"Your shop “{connection.shop_name}” ({connection.shop_domain}) needs reconnecting.\n\n"
        f"Why: {reason}\n\n"
        f"Until you reconnect, the recipes of this shop are paused: new orders and other events "
        f"are not handled. Reconnecting takes one click and an approval at Cartly:\n"
        f"{absolute(reverse('connection_detail', args=[connection.pk]))}"
    )
    return subject, body


def notify_reconnect(connection: Connection) -> Notification | None:
    """Email the shop's owner that it needs reconnecting, at most once an hour per shop."""
    connection = Connection.objects.select_related("owner").get(pk=connection.pk)
    user = connection.owner
    if confirmed_recipient(user) is None:
        return None
    with transaction.atomic():
        Connection.objects.select_for_update().filter(pk=connection.pk).first()
        if sent_recently(Notification.Kind.RECONNECT, connection_id=connection.pk):
            return None
        subject, body = reconnect_email(connection)
        return deliver(user, Notification.Kind.RECONNECT, subject, body, connection=connection)


def send_test(user) -> Notification | None:
    """The email a merchant asks for to check that notifications reach them."""
    subject = "Test notification from Cartly Automations"
    body = (
        f"Hello {user.get_username()},\n\n"
        "This is the test you asked for: notifications reach this address. We will email you "
        "here when a recipe fails (at most once an hour per recipe) and when a shop needs "
        f"reconnecting.\n\nYour dashboard: {absolute(reverse('home'))}"
    )
    with transaction.atomic():
        return deliver(user, Notification.Kind.TEST, subject, body)


def recipe_off_email(recipe: Recipe) -> tuple[str, str]:
    subject = f"Your recipe “{recipe.name}” was switched off"
    history = reverse("runs:list") + f"?recipe={recipe.pk}&status=failed"
    body = (
        f"Hello {recipe.owner.get_username()},\n\n"
        f"Your recipe “{recipe.name}” failed {recipe.consecutive_failures} runs in a row, so it "
        f"was switched off, as you asked it to be after {recipe.turn_off_after_failures}.\n\n"
        f"See what went wrong:\n{absolute(history)}\n\n"
        f"Fix the recipe, then switch it back on:\n"
        f"{absolute(reverse('builder:edit', args=[recipe.pk]))}"
    )
    return subject, body


def notify_recipe_switched_off(recipe_id: int) -> Notification | None:
    """Tell the owner that a recipe was switched off after failing too often (each time)."""
    recipe = Recipe.objects.select_related("owner").get(pk=recipe_id)
    if not recipe.owner.email:
        return None
    subject, body = recipe_off_email(recipe)
    with transaction.atomic():
        return deliver(recipe.owner, Notification.Kind.RECIPE_OFF, subject, body, recipe=recipe)
