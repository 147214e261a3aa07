from axes.helpers import get_cool_off
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.forms import UserCreationForm
from django.shortcuts import redirect, render

from accounts import throttles

SECONDS_PER_MINUTE = 60


def signup(request):
    if request.user.is_authenticated:
        return redirect("home")
    if not settings.SIGNUP_OPEN:
        return render(request, "accounts/signup_closed.html", status=403)
    form = UserCreationForm(request.POST or None)
    if request.method == "POST":
        limit = throttles.over_limit(
            request, throttles.SIGNUP_PER_CLIENT, throttles.SIGNUP_PER_ACCOUNT
        )
        if limit is not None:
            context = {"form": form, "refused": throttles.refusal(limit)}
            return render(request, "accounts/signup.html", context, status=429)
        if form.is_valid():
            user = form.save()
            # Two backends are configured (django-axes first): say which one logged them in.
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, "Welcome! Start by connecting your Cartly shop.")
            return redirect("home")
    return render(request, "accounts/signup.html", {"form": form})


def locked_out(request, original_response=None, credentials=None):
    """django-axes' answer to a login while the account or the client is locked out."""
    cool_off = get_cool_off(request)
    minutes = max(1, round(cool_off.total_seconds() / SECONDS_PER_MINUTE)) if cool_off else None
    context = {"failure_limit": settings.AXES_FAILURE_LIMIT, "minutes": minutes}
    return render(request, "registration/locked_out.html", context, status=429)
