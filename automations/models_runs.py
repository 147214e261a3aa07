"""What a run leaves behind: the run, one row per step it reached, and every earlier attempt.

A recipe is a tree (loops, paths, error fallbacks), so a step run is addressed by where it sits
in the recipe's document: `position` is the top-level step it belongs to and `address` the path
inside it ("" for the top-level step itself, "2.i3.0" for the first step of the fourth item of
the loop at position 2; see automations/engine/addresses.py). Rows are made when a step is
reached, so a loop of 40 items has 40 iterations' rows and a path only the branch it took.
"""

from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


def elapsed_ms(start: datetime, end: datetime) -> int:
    """Whole milliseconds from `start` to `end`, never negative (clocks of two processes)."""
    return max(int((end - start).total_seconds() * 1000), 0)


class Run(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        # Parked in the database: a delay, a retry later, Cartly down, or a shop to reconnect.
        WAITING = "waiting", "Waiting"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        HALTED = "halted", "Halted"
        FILTERED = "filtered", "Filtered"
        CANCELED = "canceled", "Canceled"

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.HALTED, Status.FILTERED, Status.CANCELED)
    UNFINISHED = (Status.QUEUED, Status.RUNNING, Status.WAITING)

    recipe = models.ForeignKey("automations.Recipe", on_delete=models.CASCADE, related_name="runs")
    event = models.ForeignKey("automations.Event", on_delete=models.CASCADE, related_name="runs")
    recipe_version = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    # Why it failed, halted or was filtered; while waiting, what it waits for.
    failure_reason = models.TextField(blank=True)
    # A replay is a new run of the same event; the original stays as it was.
    replay_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replays"
    )
    # Times the sweep nudged this run; a run that keeps stalling fails at a cap.
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Seconds its templates took to render so far: one run's renders together have a deadline
    # (automations/engine/render_limits.py), whatever its loops multiply them by.
    render_seconds = models.FloatField(default=0.0)

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
            return elapsed_ms(self.started_at, self.finished_at)
        return None


class StepRun(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        WAITING = "waiting", "Waiting"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        HALTED = "halted", "Halted"
        FILTERED = "filtered", "Filtered"
        SKIPPED = "skipped", "Not reached"
        CANCELED = "canceled", "Canceled"

    class Kind(models.TextChoices):
        OPERATION = "operation", "Action or search"
        FILTER = "filter", "Filter"
        LOOP = "loop", "For each"
        PATHS = "paths", "Paths"
        DELAY = "delay", "Delay"

    class WaitKind(models.TextChoices):
        RETRY = "retry", "Retrying after a failure"
        CIRCUIT = "circuit", "Waiting for Cartly to answer again"
        BUDGET = "budget", "Waiting for the shop's call budget"
        RECONNECT = "reconnect", "Waiting for the shop to be reconnected"
        DELAY = "delay", "Waiting (delay step)"

    UNFINISHED = (Status.PENDING, Status.RUNNING, Status.WAITING)

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="step_runs")
    position = models.PositiveIntegerField()  # the top-level step this row belongs to
    address = models.CharField(max_length=120, blank=True, default="")  # "" at the top level
    key = models.CharField(max_length=64)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.OPERATION)
    operation = models.CharField(max_length=100, blank=True)  # blank for the other kinds
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    wait_kind = models.CharField(max_length=10, choices=WaitKind.choices, blank=True)
    # Rendered on the first attempt and reused by retries, so a retry sends the same call.
    rendered_input = models.JSONField(null=True, blank=True)
    output = models.JSONField(null=True, blank=True)
    # The list a loop went over, or every match of a search (the output holds the first).
    items = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    error_fields = models.JSONField(null=True, blank=True)  # Cartly's per-field messages
    status_code = models.PositiveIntegerField(null=True, blank=True)  # the last answer's code
    # Bumped by a deliberate retry whose call had no effect: a fresh Idempotency-Key.
    generation = models.PositiveIntegerField(default=0)
    attempts = models.PositiveIntegerField(default=0)
    # Pickups by a worker since the last recorded outcome: a step that keeps killing its
    # worker is given up ("poison") instead of looping.
    pickups = models.PositiveIntegerField(default=0)
    # When this generation's Idempotency-Key was first sent; Cartly forgets keys after 24 h.
    first_attempt_at = models.DateTimeField(null=True, blank=True)
    # When the sweep should look at the row again, whatever its state: a pending row whose
    # message was lost, a running row whose worker died, a waiting row whose time has come.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["run", "position", "address"], name="one_step_run_per_address"
            )
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status__in=["pending", "running", "waiting"]),
                name="steprun_unfinished_due_idx",
            )
        ]
        ordering = ["run", "position", "id"]

    def __str__(self) -> str:
        return f"{self.key} of run {self.run_id} ({self.status})"

    @property
    def where(self) -> str:
        """The row's place in the recipe, as one string: "2" or "2.i3.0"."""
        return self.address or str(self.position)

    @property
    def shown_duration_ms(self) -> int | None:
        """What the run page shows: a call's own duration, or how long a group of steps (a
        loop, paths) took from its start to its end. A delay's wait is shown as its time."""
        if self.duration_ms is not None:
            return self.duration_ms
        if self.kind in (self.Kind.LOOP, self.Kind.PATHS) and self.started_at and self.finished_at:
            return elapsed_ms(self.started_at, self.finished_at)
        return None

    @property
    def idempotency_key(self) -> str:
        # Derived from (run, step, loop index): an automatic retry replays at Cartly instead of
        # repeating. The installation's prefix keeps two databases (staging, a restored
        # backup) that share a Cartly app from replaying each other's answers.
        return (
            f"{settings.IDEMPOTENCY_KEY_PREFIX}-run-{self.run_id}"
            f"-step-{self.where}-g{self.generation}"
        )


class StepAttempt(models.Model):
    """An earlier attempt of a step, kept when the step was tried again (the latest attempt's
    input, answer and timing stay on the StepRun itself)."""

    step_run = models.ForeignKey(StepRun, on_delete=models.CASCADE, related_name="past_attempts")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=StepRun.Status.choices)
    recipe_version = models.PositiveIntegerField(null=True, blank=True)
    rendered_input = models.JSONField(null=True, blank=True)
    output = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    error_fields = models.JSONField(null=True, blank=True)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(default=timezone.now)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["step_run", "number", "id"]

    def __str__(self) -> str:
        return f"attempt {self.number} of step run {self.step_run_id} ({self.status})"
