"""Rows of the self-healing machinery: polling cursors, the levels polling last saw, and the
repairs reconciliation made.

Imported by automations/models.py so Django registers them with the app.
"""

from django.db import models

from connectors.models import Connection


class PollCursor(models.Model):
    """Where polling of one (connection, resource, cursor kind) has got to.

    One row serves every trigger that reads the same listing (New Order reads orders by
    since_id; Order Updated, Fulfilled and Canceled share orders by updated_since), so one
    tick costs one listing per row however many recipes need it.
    """

    class Kind(models.TextChoices):
        SINCE_ID = "since_id", "New objects (by id)"
        UPDATED_SINCE = "updated_since", "Changed objects (by updated_at)"
        # Levels inside changed objects (a product's variants' stock), compared with SeenLevel.
        LEVELS = "levels", "Levels inside changed objects (by updated_at)"

    connection = models.ForeignKey(
        Connection, on_delete=models.CASCADE, related_name="poll_cursors"
    )
    resource = models.CharField(max_length=40)  # the list endpoint, e.g. "orders"
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # The last object id seen (since_id cursors, once anything was seen). A levels cursor has
    # no ids to page by: it holds LEVELS_RECORDED once every level was read and recorded.
    since_id = models.CharField(max_length=64, blank=True)
    # Changes at or after this Cartly time are still to be read (both kinds: a since_id cursor
    # that has seen nothing yet reads objects created at or after it).
    since_time = models.DateTimeField()
    # A poll holds the row until then; a dead worker's lease lapses by itself.
    leased_until = models.DateTimeField(null=True, blank=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "resource", "kind"], name="one_cursor_per_listing"
            )
        ]

    def __str__(self) -> str:
        return f"{self.resource} by {self.kind} @ {self.connection_id}"


class SeenLevel(models.Model):
    """The last value polling saw of one level that Cartly lists only inside other objects.

    Inventory levels have no listing (cartly-api.md, "Changelog events"): polling reads
    products and compares each variant's stock with the row here, so it can tell a change
    (an event) from a product edited for another reason (none). One row per object, per
    connection and event type; it goes when the connection goes.
    """

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="seen_levels")
    event_type = models.CharField(max_length=40)  # e.g. "inventory_level.updated"
    object_id = models.CharField(max_length=64)  # e.g. the variant's id
    value = models.BigIntegerField()
    seen_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "event_type", "object_id"], name="one_seen_level_per_object"
            )
        ]

    def __str__(self) -> str:
        return f"{self.object_id} = {self.value} @ {self.connection_id}"


class SubscriptionRepair(models.Model):
    """One thing reconciliation fixed at Cartly, for the connection page and the admin."""

    class Action(models.TextChoices):
        RECREATED = "recreated", "Re-registered a notification that vanished at Cartly"
        CREATED = "created", "Registered a notification that was missing"
        DROPPED = "dropped", "Forgot a vanished notification no recipe needs"
        REMOVED_ORPHAN = "removed_orphan", "Removed a notification no recipe uses"
        CAUGHT_UP = "caught_up", "Fetched what happened while the notification was missing"

    connection = models.ForeignKey(
        Connection, on_delete=models.CASCADE, related_name="subscription_repairs"
    )
    event_type = models.CharField(max_length=40, blank=True)
    action = models.CharField(max_length=20, choices=Action.choices)
    detail = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["connection", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.get_action_display()} ({self.event_type or 'hook'})"
