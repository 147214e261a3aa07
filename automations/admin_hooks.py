"""The admin of signed deliveries the receiver refused (automations/receiver_rejects.py).

Read-only: a row is evidence of what Cartly sent and what we answered. The body is shown as
received; no token, signature or secret is ever stored with it.
"""

from django.contrib import admin

from automations.models import RejectedDelivery


@admin.register(RejectedDelivery)
class RejectedDeliveryAdmin(admin.ModelAdmin):
    list_display = (
        "last_seen_at",
        "connection",
        "status_code",
        "error",
        "message",
        "event_type",
        "times_seen",
    )
    list_filter = ("status_code", "error", "event_type")
    search_fields = ("cartly_event_id", "body_sha256", "connection__shop_domain", "message")
    ordering = ("-last_seen_at",)
    readonly_fields = [f.name for f in RejectedDelivery._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False  # rows come only from Cartly's deliveries

    def has_change_permission(self, request, obj=None) -> bool:
        return False
