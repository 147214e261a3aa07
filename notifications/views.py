"""The dashboard's notification buttons: send a test email, set the address emails go to."""

import logging

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from notifications import sending

log = logging.getLogger(__name__)


class EmailForm(forms.Form):
    email = forms.EmailField(label="Email for notifications")


@login_required
@require_POST
def send_test(request):
    if not request.user.email:
        messages.error(request, "Add an email address first: notifications are sent by email.")
        return redirect("home")
    try:
        sending.send_test(request.user)
    except Exception as exc:  # noqa: BLE001 - any mail server trouble, said in plain words
        log.warning("test notification failed: %s", type(exc).__name__)
        messages.error(request, "We could not send the test email. The mail server refused "
                                "or did not answer; please tell the person who runs this site.")
    else:
        messages.success(request, f"Sent a test email to {request.user.email}.")
    return redirect("home")


@login_required
@require_POST
def set_email(request):
    form = EmailForm(request.POST)
    if form.is_valid():
        request.user.email = form.cleaned_data["email"]
        request.user.save(update_fields=["email"])
        messages.success(request, f"Notifications will go to {request.user.email}.")
    else:
        messages.error(request, "That does not look like an email address.")
    return redirect("home")
