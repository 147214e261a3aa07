"""The dashboard's notification buttons: set the address emails go to (confirmed by a link
emailed to it), send a test email. Each email a button sends is throttled per user."""

import logging

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts import throttles
from notifications import confirmation, sending

log = logging.getLogger(__name__)
MAIL_TROUBLE = (
    "We could not send the email. The mail server refused or did not answer; please tell "
    "the person who runs this site."
)


class EmailForm(forms.Form):
    email = forms.EmailField(label="Email for notifications")


def _send_confirmation(request) -> None:
    limit = throttles.over_limit(request, throttles.CONFIRMATION_PER_USER)
    if limit is not None:
        messages.error(request, throttles.refusal(limit))
        return
    try:
        confirmation.send_confirmation(request.user)
    except Exception as exc:  # noqa: BLE001 - any mail server trouble, said in plain words
        log.warning("confirmation email failed: %s", type(exc).__name__)
        messages.error(request, MAIL_TROUBLE)
        return
    messages.success(
        request,
        f"We sent a link to {request.user.email}. Open it to confirm the address; until "
        "then no notification is sent there.",
    )


@login_required
@require_POST
def send_test(request):
    if not confirmation.is_confirmed(request.user):
        messages.error(
            request,
            "Add and confirm an email address first: notifications are "
            "sent only to a confirmed address.",
        )
        return redirect("home")
    limit = throttles.over_limit(request, throttles.TEST_EMAIL_PER_USER)
    if limit is not None:
        messages.error(request, throttles.refusal(limit))
        return redirect("home")
    try:
        sending.send_test(request.user)
    except Exception as exc:  # noqa: BLE001 - any mail server trouble, said in plain words
        log.warning("test notification failed: %s", type(exc).__name__)
        messages.error(request, MAIL_TROUBLE)
    else:
        messages.success(request, f"Sent a test email to {request.user.email}.")
    return redirect("home")


@login_required
@require_POST
def set_email(request):
    form = EmailForm(request.POST)
    if not form.is_valid():
        messages.error(request, "That does not look like an email address.")
        return redirect("home")
    request.user.email = form.cleaned_data["email"]
    request.user.save(update_fields=["email"])
    if confirmation.is_confirmed(request.user):
        messages.success(request, f"Notifications will go to {request.user.email}.")
    else:
        _send_confirmation(request)
    return redirect("home")


@login_required
@require_POST
def resend_confirmation(request):
    if request.user.email and not confirmation.is_confirmed(request.user):
        _send_confirmation(request)
    return redirect("home")


@login_required
def confirm(request, token: str):
    """GET shows what the link confirms; POST confirms it (a mail scanner that opens links
    must not confirm an address for anyone)."""
    try:
        email = confirmation.read_link(token, request.user)
    except confirmation.InvalidLink as exc:
        return render(request, "notifications/confirm.html", {"problem": str(exc)}, status=400)
    if request.method == "POST":
        confirmation.confirm(token, request.user)
        messages.success(request, f"Confirmed: notifications will go to {email}.")
        return redirect("home")
    return render(request, "notifications/confirm.html", {"email": email})
