"""`manage.py sandbox_event EVENT [--count N] [--shop DOMAIN] --settings=sandbox.settings`.

Makes a REST Hook event happen through the shop's real actions (sandbox/scenarios.py). It only
writes the change and its queued deliveries: the running `sandbox_serve` worker sends them.
"""

import json

from django.core.management.base import BaseCommand, CommandError

from sandbox import scenarios
from sandbox.errors import ApiError
from sandbox.events import EVENT_TYPES


class Command(BaseCommand):
    help = f"Make a shop event happen for real. EVENT is one of: {', '.join(EVENT_TYPES)}."

    def add_arguments(self, parser) -> None:
        parser.add_argument("event", metavar="EVENT", help=", ".join(EVENT_TYPES))
        parser.add_argument("--count", type=int, default=1, help="how many times (default 1)")
        parser.add_argument("--shop", metavar="DOMAIN", help="default: the first shop")
        parser.add_argument("--json", action="store_true", help="print a JSON list instead")

    def handle(self, *args, event: str, count: int, shop: str | None, **options) -> None:
        if event not in scenarios.SCENARIOS:
            raise CommandError(f"unknown event {event!r}; choose one of: {', '.join(EVENT_TYPES)}")
        if count < 1:
            raise CommandError("--count must be at least 1")
        try:
            target = scenarios.find_shop(shop)
            done = [self._play(target, event, options["json"]) for _ in range(count)]
        except (scenarios.ScenarioError, ApiError) as exc:
            raise CommandError(str(exc)) from None
        if options["json"]:
            self.stdout.write(json.dumps([d.as_dict() for d in done], indent=2))

    def _play(self, shop, event: str, quiet: bool) -> scenarios.Done:
        done = scenarios.play(shop, event)
        if not quiet:
            self.stdout.write(done.line())  # as it happens: a long --count shows progress
        return done
