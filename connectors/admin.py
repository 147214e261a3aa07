from django.contrib import admin

from connectors.models import Connection


@admin.register(Connection)
class ConnectionAdmin(admin.ModelAdmin):
    list_display = (
        "shop_name",
        "shop_domain",
        "owner",
        "status",
        "token_expires_at",
        "connected_at",
        "last_error_at",
    )
    list_filter = ("status", "provider")
    search_fields = ("shop_name", "shop_domain", "shop_id", "owner__username")
    # Tokens are never shown, not even encrypted.
    exclude = ("access_token", "refresh_token")
    readonly_fields = (
        "shop_id",
        "scopes",
        "token_expires_at",
        "connected_at",
        "updated_at",
        "last_error",
        "last_error_at",
    )
