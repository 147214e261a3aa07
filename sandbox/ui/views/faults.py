"""Fault injection: the shop's overrides of the sandbox's SANDBOX_FAULT_* settings."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from sandbox.ui.forms import FaultsForm
from sandbox.ui.views.common import form_invalid, merchant_view


@merchant_view
def faults(request: HttpRequest) -> HttpResponse:
    form = FaultsForm(request.POST or None, instance=request.shop)
    if request.method == "POST":
        if form.is_valid():
            form.save()
            messages.success(request, "Fault settings saved")
            return redirect("sandbox:faults")
        form_invalid(request)
    return render(request, "sandbox/ui/faults.html", {"form": form})
