"""Admin for API tokens: create one (its raw value is shown once), see when each was used."""

from django.contrib import admin
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers

from accounts.models import ApiToken

# Where the raw token waits between save_model and response_add: on this request object only,
# never in the session or a message (both can live in a cookie).
NEW_TOKEN_ATTRIBUTE = "_new_api_token"


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
        setattr(request, NEW_TOKEN_ATTRIBUTE, raw)

    def response_add(self, request, obj, post_url_continue=None):
        """Show the new token once, on the page that made it; nothing of it is kept."""
        raw = getattr(request, NEW_TOKEN_ATTRIBUTE, None)
        if raw is None:
            return super().response_add(request, obj, post_url_continue)
        context = {
            **self.admin_site.each_context(request),
            "token": obj,
            "raw": raw,
            "opts": self.opts,
            "title": "New API token",
        }
        response = TemplateResponse(request, "admin/accounts/apitoken/created.html", context)
        add_never_cache_headers(response)  # nor kept in the browser's cache
        return response
