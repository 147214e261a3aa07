"""The Django admin of recipes, subscriptions, the event inbox and runs."""

from django import forms
from django.contrib import admin, messages

from automations.models import Event, Recipe, RecipeVersion, Run, Step, StepRun, Subscription


class StepInline(admin.TabularInline):
    model = Step
    extra = 0
    fields = ("position", "key", "kind", "operation", "fields", "conditions", "if_not_found")
    readonly_fields = fields
    can_delete = False
    show_change_link = False


class RecipeAdminForm(forms.ModelForm):
    class Meta:
        model = Recipe
        fields = ("owner", "connection")  # the admin adds the rest of its fields

    def clean(self):
        cleaned = super().clean()
        owner, connection = cleaned.get("owner"), cleaned.get("connection")
        if owner is not None and connection is not None and connection.owner_id != owner.pk:
            # A recipe runs with its connection's tokens: another user's shop is not yours.
            self.add_error(
                "connection",
                "This shop was connected by another user: a recipe "
                "can only use a connection of its own owner.",
            )
        return cleaned


@admin.register(Recipe)
class RecipeAdmin(admin.ModelAdmin):
    form = RecipeAdminForm
    list_display = (
        "name",
        "owner",
        "connection",
        "trigger",
        "mode",
        "enabled",
        "paused_reason",
        "version",
        "deleted_at",
        "updated_at",
    )
    list_filter = ("enabled", "mode", "trigger", ("deleted_at", admin.EmptyFieldListFilter))
    search_fields = ("name", "owner__username", "connection__shop_domain")
    readonly_fields = ("version", "event_type", "created_at", "updated_at")
    inlines = [StepInline]
    actions = ["enable", "disable"]

    @admin.action(description="Turn on the selected recipes")
    def enable(self, request, queryset):
        from automations.subscriptions import CannotEnable, enable_recipe

        turned_on = 0
        for recipe in queryset:
            try:
                enable_recipe(recipe)
            except CannotEnable as exc:
                self.message_user(request, f"{recipe.name}: not turned on. {exc}", messages.ERROR)
            else:
                turned_on += 1
        self.message_user(request, f"Turned on {turned_on} recipe(s).", messages.SUCCESS)

    @admin.action(description="Turn off the selected recipes")
    def disable(self, request, queryset):
        from automations.subscriptions import disable_recipe

        for recipe in queryset:
            disable_recipe(recipe)
        self.message_user(request, f"Turned off {queryset.count()} recipe(s).", messages.SUCCESS)


@admin.register(RecipeVersion)
class RecipeVersionAdmin(admin.ModelAdmin):
    list_display = ("recipe", "version", "created_at")
    readonly_fields = ("recipe", "version", "document", "created_at")


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = (
        "event_type",
        "connection",
        "status",
        "remote_id",
        "status_reason",
        "last_delivery_at",
        "attempts",
        "next_attempt_at",
    )
    list_filter = ("status", "event_type")
    search_fields = ("remote_id", "connection__shop_domain")
    # The callback token is a credential: whoever knows it can post to us (signed or not).
    exclude = ("token",)


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = (
        "cartly_event_id",
        "event_type",
        "connection",
        "source",
        "status",
        "received_at",
        "dispatched_at",
    )
    list_filter = ("status", "source", "event_type")
    search_fields = ("cartly_event_id", "object_id")
    readonly_fields = [f.name for f in Event._meta.fields]


class StepRunInline(admin.TabularInline):
    model = StepRun
    extra = 0
    can_delete = False
    fields = (
        "position",
        "key",
        "operation",
        "status",
        "attempts",
        "status_code",
        "error",
        "rendered_input",
        "output",
        "duration_ms",
    )
    readonly_fields = fields


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "recipe",
        "status",
        "recipe_version",
        "created_at",
        "finished_at",
        "failure_reason",
    )
    list_filter = ("status", "recipe")
    search_fields = ("recipe__name", "event__cartly_event_id", "failure_reason")
    readonly_fields = [f.name for f in Run._meta.fields]
    inlines = [StepRunInline]
    actions = ["replay", "retry_failed_step"]

    @admin.action(description="Replay the selected runs (original recipe version)")
    def replay(self, request, queryset):
        from automations.engine.replay import replay_run

        for run in queryset.select_related("recipe", "event"):
            replay_run(run)
        self.message_user(request, f"Replayed {queryset.count()} run(s).", messages.SUCCESS)

    @admin.action(description="Retry the selected runs from their failed step")
    def retry_failed_step(self, request, queryset):
        from automations.engine.replay import CannotRetry, retry_from_failed_step

        for run in queryset:
            try:
                retry_from_failed_step(run)
            except CannotRetry as exc:
                self.message_user(request, f"Run {run.pk}: {exc}", messages.WARNING)


# Refused REST Hook deliveries; polling cursors and repairs.
from automations import admin_hooks, admin_repairs  # noqa: E402,F401
