"""What the API sends and accepts. Connections are shown without any token, ever."""

from datetime import datetime
from typing import Any, Literal

from ninja import Schema

from automations.documents import document_for_version
from automations.models import Recipe, Run, StepRun
from automations.run_page import ordered_rows


class ErrorOut(Schema):
    detail: str


class ProblemOut(Schema):
    path: str
    message: str


class ProblemsOut(Schema):
    detail: str
    problems: list[ProblemOut]


class ConnectionOut(Schema):
    id: int
    provider: str
    shop_id: str
    shop_name: str
    shop_domain: str
    currency: str
    scopes: list[str]
    status: str
    status_reason: str
    connected_at: datetime

    @staticmethod
    def resolve_scopes(obj) -> list[str]:
        return obj.scope_list


class RecipeOut(Schema):
    id: int
    name: str
    connection_id: int
    trigger: str
    event_type: str
    mode: str
    enabled: bool
    paused_reason: str
    is_running: bool
    version: int
    created_at: datetime
    updated_at: datetime


class RecipeDetailOut(RecipeOut):
    document: dict[str, Any]

    @staticmethod
    def resolve_document(obj: Recipe) -> dict[str, Any]:
        return document_for_version(obj, obj.version)


class RecipeCreateIn(Schema):
    connection: int
    # Any JSON, checked by validate_document, so a wrong shape is listed like any problem.
    document: Any


class EventOut(Schema):
    id: int
    cartly_event_id: str
    event_type: str
    object_id: str
    source: str
    occurred_at: datetime | None
    received_at: datetime


class RunOut(Schema):
    id: int
    recipe_id: int
    recipe_name: str
    recipe_version: int
    status: str
    failure_reason: str
    replay_of_id: int | None
    event: EventOut
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: int | None

    @staticmethod
    def resolve_recipe_name(obj: Run) -> str:
        return obj.recipe.name


class StepAttemptOut(Schema):
    number: int
    status: str
    recipe_version: int | None
    rendered_input: Any
    output: Any
    error: str
    error_fields: Any
    status_code: int | None
    started_at: datetime | None
    finished_at: datetime
    duration_ms: int | None


class StepRunOut(Schema):
    position: int
    # Where the step sits in the recipe's tree: "2", or "2.i3.0" (loop item 4's first step),
    # "4.b1.0" (a path's), "5.e.0" (a fallback's); see docs/recipes.md.
    where: str
    key: str
    kind: str
    operation: str
    status: str
    wait_kind: str
    rendered_input: Any
    output: Any
    items: Any
    error: str
    error_fields: Any
    status_code: int | None
    attempts: int
    generation: int
    next_attempt_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: int | None
    earlier_attempts: list[StepAttemptOut]

    @staticmethod
    def resolve_earlier_attempts(obj: StepRun) -> list:
        return list(obj.past_attempts.all())


class RunDetailOut(RunOut):
    trigger: dict[str, Any]
    step_runs: list[StepRunOut]

    @staticmethod
    def resolve_trigger(obj: Run) -> dict[str, Any]:
        return obj.event.payload

    @staticmethod
    def resolve_step_runs(obj: Run) -> list:
        return ordered_rows(obj)


class RunPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[RunOut]


class ReplayIn(Schema):
    # "original": the version the run used; "current": the recipe as it is now.
    version: Literal["original", "current"] = "original"


class RetryIn(Schema):
    # "current" re-renders the failed step from the recipe as it is now, earlier outputs kept.
    version: Literal["original", "current"] = "original"
