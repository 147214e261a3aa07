from django.contrib import admin

from notifications.models import Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("sent_at", "kind", "user", "recipient", "subject")
    list_filter = ("kind",)
    search_fields = ("user__username", "recipient", "subject")
    readonly_fields = (
        "user",
        "kind",
        "recipe",
        "connection",
        "run",
        "recipient",
        "subject",
        "sent_at",
    )
