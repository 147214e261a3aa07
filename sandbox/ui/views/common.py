"""What every merchant page shares: the shop of the signed-in user and readable refusals."""

from collections.abc import Callable
from functools import wraps

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from sandbox.errors import ValidationFailed
from sandbox.models import Shop

# List pages show the newest rows only: the sandbox is for looking, not for bookkeeping.
LIST_LIMIT = 100


def merchant_view(view: Callable) -> Callable:
    """Login required; `request.shop` is the user's own shop (a user without one gets 403)."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        shop = Shop.objects.filter(owner=request.user).first()
        if shop is None:
            return render(request, "sandbox/ui/no_shop.html", status=403)
        request.shop = shop
        return view(request, *args, **kwargs)

    return wrapped


def merchant_action(view: Callable) -> Callable:
    """A POST-only button of a merchant page (CSRF is checked by the middleware)."""
    return merchant_view(require_POST(view))


def readable(
    exc: ValidationFailed, name_fields: bool = True, form: forms.Form | None = None
) -> str:
    """One sentence from the shop's refusal: "Email already taken", in the form's labels."""
    parts = []
    for field, errors in (exc.fields or {}).items():
        name = field.replace("_", " ")
        if form is not None and field in form.fields and form.fields[field].label:
            name = str(form.fields[field].label)
        for error in errors:
            parts.append(f"{name} {error}" if name_fields else error)
    text = "; ".join(parts) or exc.message
    return text[:1].upper() + text[1:]


def refuse(request: HttpRequest, exc: ValidationFailed, form: forms.Form | None = None) -> None:
    """Show a refusal as a message, and next to the form fields it names."""
    if form is not None:
        for field, errors in (exc.fields or {}).items():
            if field in form.fields:
                for error in errors:
                    form.add_error(field, error[:1].upper() + error[1:])
    messages.error(request, readable(exc, form=form))


def form_invalid(request: HttpRequest) -> None:
    messages.error(request, "Please correct the fields marked below.")
