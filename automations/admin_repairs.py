"""The admin of what keeps recipes fed without a healthy hook: repairs and polling cursors."""

from django.contrib import admin

from automations.models import PollCursor, SubscriptionRepair


@admin.register(SubscriptionRepair)
class SubscriptionRepairAdmin(admin.ModelAdmin):
    list_display = ("created_at", "connection", "event_type", "action", "detail")
    list_filter = ("action", "event_type")
    search_fields = ("connection__shop_domain", "detail")
    readonly_fields = ("connection", "event_type", "action", "detail", "created_at")

    def has_add_permission(self, request) -> bool:
        return False  # a record of what reconciliation did, not something to make by hand


@admin.register(PollCursor)
class PollCursorAdmin(admin.ModelAdmin):
    list_display = (
        "connection",
        "resource",
        "kind",
        "since_id",
        "since_time",
        "last_polled_at",
        "last_error",
    )
    list_filter = ("resource", "kind")
    readonly_fields = (
        "connection",
        "resource",
        "kind",
        "created_at",
        "last_polled_at",
        "last_error",
        "leased_until",
    )
