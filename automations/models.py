"""Recipes and everything a run leaves behind: the inbox of events, runs and step runs.

Every state a merchant would want to see is a row with an explicit status (DESIGN.md,
"Principles"); the database is the source of truth and Celery messages carry only ids.
"""

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from connectors.models import Connection


def new_callback_token() -> str:
    # Unguessable: the token in the hook URL is what finds (and so scopes) a subscription.
    return secrets.token_urlsafe(32)


class Recipe(models.Model):
    class Mode(models.TextChoices):
        INSTANT = "instant", "Instant (REST Hook)"
        POLLING = "polling", "Polling"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recipes"
    )
    # No index of its own: recipe_dispatch_idx leads with it and serves every lookup by it.
    connection = models.ForeignKey(
        Connection, on_delete=models.CASCADE, related_name="recipes", db_index=False
    )
    name = models.CharField(max_length=200)
    trigger = models.CharField(max_length=100)  # a registry key, e.g. cartly.order_created
    # The trigger's event name (e.g. order.created), kept for the dispatch index.
    event_type = models.CharField(max_length=40)
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.INSTANT)
    enabled = models.BooleanField(default=False)
    # Why an enabled recipe is not running (e.g. its connection needs reconnecting).
    paused_reason = models.CharField(max_length=500, blank=True)
    # Conditions on the trigger's data checked before any step (automations.engine.conditions).
    conditions = models.JSONField(default=list, blank=True)
    condition_match = models.CharField(
        max_length=3, choices=[("all", "All conditions"), ("any", "Any condition")], default="all"
    )
    # Bumped on every change of trigger, conditions or steps; each run records the one it used.
    version = models.PositiveIntegerField(default=1)
    # "Switch off after N failed runs in a row" (None: never); the document's
    # `turn_off_after_failures`. The counter is reset by a run that succeeds.
    turn_off_after_failures = models.PositiveIntegerField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    # Set when a disconnect of its shop switched it off, so reconnecting can offer it back.
    off_by_disconnect = models.BooleanField(default=False)
    # In the trash since then (off, runs kept); purged after settings.TRASH_RETENTION_DAYS.
    deleted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [
            # Dispatch's matching query (engine/match.py) fills all three columns. Not partial:
            # beside a one-column connection index the planner chose that narrower index after
            # ANALYZE whenever event_type looked unselective, reading every recipe of the shop.
            models.Index(fields=["connection", "enabled", "event_type"], name="recipe_dispatch_idx")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_running(self) -> bool:
        return self.enabled and not self.paused_reason

    @property
    def in_trash(self) -> bool:
        return self.deleted_at is not None


class Step(models.Model):
    """One top-level step of a recipe: an action, a search, a filter, a loop, paths or a delay.

    The recipe's current document (RecipeVersion) is the truth; these rows are its top level,
    for the admin and for queries."""

    class Kind(models.TextChoices):
        ACTION = "action", "Action"
        SEARCH = "search", "Search"
        FILTER = "filter", "Filter"
        LOOP = "loop", "For each"
        PATHS = "paths", "Paths"
        DELAY = "delay", "Delay"

    class IfNotFound(models.TextChoices):
        HALT = "halt", "Stop the run (halted)"
        CONTINUE = "continue", "Go on with an empty result"

    recipe = models.ForeignKey(Recipe, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField()
    key = models.SlugField(max_length=64)  # how later steps refer to it: steps.<key>
    kind = models.CharField(max_length=10, choices=Kind.choices)
    operation = models.CharField(max_length=100, blank=True)  # a registry key
    fields = models.JSONField(default=dict, blank=True)  # field key → Jinja template
    conditions = models.JSONField(default=list, blank=True)  # filter steps only
    condition_match = models.CharField(max_length=3, default="all")
    if_not_found = models.CharField(
        max_length=10, choices=IfNotFound.choices, default=IfNotFound.HALT
    )
    # The whole step as the recipe's document has it, nested steps included (documents.py).
    spec = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["recipe", "position"]
        constraints = [
            models.UniqueConstraint(fields=["recipe", "position"], name="one_step_per_position"),
            models.UniqueConstraint(fields=["recipe", "key"], name="step_keys_unique_in_recipe"),
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.key}"


class RecipeVersion(models.Model):
    """Each saved version of a recipe as a document (docs/recipes.md).

    Runs execute the document of the version they recorded, so editing a recipe never changes
    a run in flight, and a replay can choose the original version or the current one.
    """

    recipe = models.ForeignKey(Recipe, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    document = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["recipe", "version"], name="one_row_per_version")
        ]

    def __str__(self) -> str:
        return f"{self.recipe_id} v{self.version}"


class Subscription(models.Model):
    """Our REST Hook at Cartly for one (connection, event); at most one live per pair."""

    class Status(models.TextChoices):
        PENDING = "pending", "Registering"
        ACTIVE = "active", "Active"
        FAILED = "failed", "Could not register"
        DELETING = "deleting", "Removing"
        DELETED = "deleted", "Removed"

    connection = models.ForeignKey(
        Connection, on_delete=models.CASCADE, related_name="subscriptions"
    )
    event_type = models.CharField(max_length=40)
    token = models.CharField(max_length=64, unique=True, default=new_callback_token)
    remote_id = models.CharField(max_length=64, blank=True)  # Cartly's wh_… id
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    status_reason = models.CharField(max_length=500, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_delivery_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "event_type"],
                condition=~Q(status="deleted"),
                name="one_live_subscription_per_event",
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_type} @ {self.connection}"


class Event(models.Model):
    """The inbox: one row per event Cartly told us about (or polling found)."""

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        DISPATCHED = "dispatched", "Dispatched"
        IGNORED = "ignored", "Ignored (unknown event type)"
        DUPLICATE = "duplicate", "Duplicate (already seen another way)"
        # Delivered after HOOK_STALE_AFTER_SECONDS: kept, never run (automations/receiver.py).
        STALE = "stale", "Stale (arrived too late to run)"
        FAILED = "failed", "Could not be dispatched (see the worker's log)"

    class Source(models.TextChoices):
        WEBHOOK = "webhook", "REST Hook"
        POLL = "poll", "Polling"
        MANUAL = "manual", "Test or sample"

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="events")
    subscription = models.ForeignKey(Subscription, null=True, blank=True, on_delete=models.SET_NULL)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.WEBHOOK)
    cartly_event_id = models.CharField(max_length=64)
    event_type = models.CharField(max_length=40)
    object_id = models.CharField(max_length=64, blank=True)
    # Source-independent identity of the change, so a webhook and a poll of the same change
    # run once: (event, object id) or, for *.updated, (event, object id, updated_at).
    # NULL on rows stored as duplicates of another row's key.
    dedupe_key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    payload = models.JSONField()  # the envelope's `data`
    raw_body = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RECEIVED)
    occurred_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    dispatch_attempts = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "cartly_event_id"], name="one_row_per_cartly_event"
            ),
            models.UniqueConstraint(fields=["connection", "dedupe_key"], name="one_row_per_change"),
        ]
        indexes = [
            models.Index(
                fields=["received_at"],
                condition=Q(status="received"),
                name="event_undispatched_idx",
            ),
            # The connection page counts these; they are few, so the index is small.
            models.Index(
                fields=["connection"], condition=Q(status="stale"), name="event_stale_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.cartly_event_id}"


# Runs and polling live in their own modules; importing them here registers them with the app.
from automations.models_hooks import RejectedDelivery  # noqa: E402,F401
from automations.models_polling import PollCursor, SeenLevel, SubscriptionRepair  # noqa: E402,F401
from automations.models_runs import Run, StepAttempt, StepRun  # noqa: E402,F401
