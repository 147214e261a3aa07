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


class Step(models.Model):
    """One step of a recipe: an action, a search, or a filter (conditions, no operation)."""

    class Kind(models.TextChoices):
        ACTION = "action", "Action"
        SEARCH = "search", "Search"
        FILTER = "filter", "Filter"

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
        STALE = "stale", "Stale (a newer change was already handled)"
        FAILED = "failed", "Could not be dispatched (see the worker's log)"

    class Source(models.TextChoices):
        WEBHOOK = "webhook", "REST Hook"
        POLL = "poll", "Polling"
        MANUAL = "manual", "Test or sample"

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="events")
    subscription = models.ForeignKey(
        Subscription, null=True, blank=True, on_delete=models.SET_NULL
    )
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
            models.UniqueConstraint(
                fields=["connection", "dedupe_key"], name="one_row_per_change"
            ),
        ]
        indexes = [
            models.Index(
                fields=["received_at"],
                condition=Q(status="received"),
                name="event_undispatched_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.cartly_event_id}"


class Run(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        HALTED = "halted", "Halted"
        FILTERED = "filtered", "Filtered"

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.HALTED, Status.FILTERED)

    recipe = models.ForeignKey(Recipe, on_delete=models.CASCADE, related_name="runs")
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="runs")
    recipe_version = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    failure_reason = models.TextField(blank=True)
    # A replay is a new run of the same event; the original stays as it was.
    replay_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replays"
    )
    # Times a worker picked this run up; a run that keeps killing workers fails at a cap.
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["recipe", "event"],
                condition=Q(replay_of__isnull=True),
                name="one_run_per_recipe_and_event",
            )
        ]
        indexes = [
            models.Index(fields=["recipe", "-created_at"]),
            models.Index(fields=["status", "next_attempt_at"]),
        ]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Run {self.pk} of {self.recipe_id} ({self.status})"

    @property
    def duration_ms(self) -> int | None:
        if self.started_at and self.finished_at:
            return int((self.finished_at - self.started_at).total_seconds() * 1000)
        return None


class StepRun(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        WAITING = "waiting", "Waiting to retry"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        HALTED = "halted", "Halted"
        FILTERED = "filtered", "Filtered"
        SKIPPED = "skipped", "Not reached"

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="step_runs")
    position = models.PositiveIntegerField()
    key = models.CharField(max_length=64)
    operation = models.CharField(max_length=100, blank=True)  # blank for a filter step
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    # Rendered on the first attempt and reused by retries, so a retry sends the same call.
    rendered_input = models.JSONField(null=True, blank=True)
    output = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    error_fields = models.JSONField(null=True, blank=True)  # Cartly's per-field messages
    status_code = models.PositiveIntegerField(null=True, blank=True)  # Cartly's last answer
    # Bumped by "Retry from the failed step": a fresh Idempotency-Key for a deliberate retry.
    generation = models.PositiveIntegerField(default=0)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "position"], name="one_step_run_per_position")
        ]
        ordering = ["run", "position"]

    def __str__(self) -> str:
        return f"{self.key} of run {self.run_id} ({self.status})"

    @property
    def idempotency_key(self) -> str:
        # Derived from (run, step): an automatic retry replays at Cartly instead of repeating.
        # The installation's prefix keeps two databases (staging, a restored backup) that share
        # a Cartly app from replaying each other's answers.
        return (
            f"{settings.IDEMPOTENCY_KEY_PREFIX}-run-{self.run_id}"
            f"-step-{self.position}-g{self.generation}"
        )


# Polling cursors and reconciliation repairs live in their own module (issue 6).
from automations.models_polling import PollCursor, SubscriptionRepair  # noqa: E402,F401
