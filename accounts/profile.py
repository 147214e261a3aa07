"""The profile page: the merchant's own settings (the time zone pages are shown in)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils import timezone

from accounts.middleware import remember_time_zone
from accounts.models_profile import Profile, time_zone_names


class ProfileForm(forms.ModelForm):
    time_zone = forms.ChoiceField(label="Time zone", choices=())

    class Meta:
        model = Profile
        fields = ["time_zone"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = [(name, name) for name in time_zone_names()]
        self.fields["time_zone"].widget.attrs["id"] = "id_time_zone"


@login_required
def profile(request):
    mine, _ = Profile.objects.get_or_create(user=request.user)
    form = ProfileForm(request.POST or None, instance=mine)
    if request.method == "POST" and form.is_valid():
        form.save()
        remember_time_zone(request.session, mine.time_zone)
        messages.success(request, f"Times are now shown in {mine.time_zone}.")
        return redirect("profile")
    status = 400 if form.errors else 200
    return render(
        request, "accounts/profile.html", {"form": form, "now": timezone.now()}, status=status
    )
