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


def _failed_step_words(run: Run) -> str:
    step = StepRun.objects.filter(run=run, status=StepRun.Status.FAILED).first()
    if step is None or not step.error:
        return ""
    lines = [f"Step {step.position + 1} ({step.key}): {step.error}"]
    fields = step.error_fields if isinstance(step.error_fields, dict) else {}
    for name, messages in fields.items():
        text = "; ".join(messages) if isinstance(messages, list) else str(messages)
        lines.append(f"  - {name}: {text}")
    return "\n".join(lines)


def run_failed_email(run: Run) -> tuple[str, str]:
    recipe = run.recipe
    subject = f"Your recipe “{recipe.name}” failed"
    reason = run.failure_reason or "The run stopped with an error."
    step = _failed_step_words(run)
    history = reverse("runs:list") + f"?recipe={recipe.pk}&status=failed"
    body = (
        f"Hello {run.recipe.owner.get_username()},\n\n"
        f"Your recipe “{recipe.name}” failed while handling {_trigger_words(run)}.\n\n"
        f"What went wrong: {reason}\n"
        + (f"{step}\n" if step and step not in reason else "")
        + f"\nSee the run, fix the recipe or replay it:\n"
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
        return deliver(user, Notification.Kind.RUN_FAILED, subject, body,
                       recipe=run.recipe, run=run)


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
