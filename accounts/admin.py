"""Admin for API tokens: create one (its raw value is shown once), see when each was used."""

from django.contrib import admin, messages

from accounts.models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "hint", "created_at", "last_used_at")
    list_filter = ("created_at",)
    search_fields = ("name", "user__username", "hint")
    readonly_fields = ("hint", "created_at", "last_used_at")
    autocomplete_fields = ("user",)

    def get_fields(self, request, obj=None):
        # The hash is never shown; a new token has nothing to show yet but who and why.
        if obj is None:
            return ("user", "name")
        return ("user", "name", "hint", "created_at", "last_used_at")

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return ("user", *self.readonly_fields)

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        raw = obj.set_new_token()
        super().save_model(request, obj, form, change)
        messages.warning(
            request,
            f"The new API token is {raw} — copy it now: it is not stored and will not be shown "
            "again.",
        )
