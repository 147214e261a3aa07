"""Re-encrypt every stored token with the newest FIELD_ENCRYPTION_KEYS key."""

from django.core.management.base import BaseCommand
from django.db import transaction

from connectors.models import Connection


class Command(BaseCommand):
    help = "Re-encrypt tokens with the first FIELD_ENCRYPTION_KEYS key, so older keys can go."

    def handle(self, *args, **options):
        count = 0
        with transaction.atomic():
            # Reading decrypts with whichever listed key opens the value; saving encrypts with
            # the first key: that round trip is the rotation.
            for connection in Connection.objects.select_for_update():
                connection.save(update_fields=["access_token", "refresh_token"])
                count += 1
        self.stdout.write(f"Re-encrypted the tokens of {count} connection(s).")
