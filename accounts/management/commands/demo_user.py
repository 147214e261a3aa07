"""Create (or keep) the demo login that `make run` prints for a newcomer."""

import json
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

DEMO_USERNAME = "demo"


class Command(BaseCommand):
    help = "Create the demo login for a local run and print it."

    def handle(self, *args, **options):
        saved = settings.VAR_DIR / "demo-login.json"
        User = get_user_model()
        user = User.objects.filter(username=DEMO_USERNAME).first()
        password = None
        if user and saved.exists():
            password = json.loads(saved.read_text()).get("password")
        if not (user and password and user.check_password(password)):
            password = secrets.token_urlsafe(9)
            user = user or User(username=DEMO_USERNAME, email="demo@example.com")
            user.set_password(password)
            user.save()
            saved.write_text(json.dumps({"username": DEMO_USERNAME, "password": password}))
            saved.chmod(0o600)
        self.stdout.write(
            f"\n  Engine: {settings.PUBLIC_BASE_URL}/  log in as {DEMO_USERNAME} / {password}\n"
        )
