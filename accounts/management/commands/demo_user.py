"""Create (or keep) the local logins `make run` prints: the demo merchant and an admin.

Each password is random once, kept under var/ (mode 0600) and reused while it still works,
so a second `make run` prints the same logins. Never used in production: there, make an admin
with `manage.py createsuperuser`.
"""

import json
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

DEMO_USERNAME = "demo"
ADMIN_USERNAME = "admin"
PASSWORD_BYTES = 9  # 12 URL-safe characters: plenty for a login that only lives on loopback


def saved_login(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def ensure_login(username: str, email: str, path: Path, *, admin: bool) -> str:
    """The user with a password we know (kept in `path`); returns the password."""
    User = get_user_model()
    user = User.objects.filter(username=username).first()
    password = saved_login(path).get("password")
    if not (user and password and user.check_password(password)):
        password = secrets.token_urlsafe(PASSWORD_BYTES)
        user = user or User(username=username, email=email)
        user.set_password(password)
    user.is_staff = user.is_superuser = admin
    user.save()
    path.write_text(json.dumps({"username": username, "password": password}))
    path.chmod(0o600)
    return password


class Command(BaseCommand):
    help = "Create the local demo and admin logins (var/demo-login.json, var/admin-login.json)."

    def handle(self, *args, **options):
        var = Path(settings.VAR_DIR)
        demo = ensure_login(DEMO_USERNAME, "demo@example.com", var / "demo-login.json", admin=False)
        admin = ensure_login(
            ADMIN_USERNAME, "admin@example.com", var / "admin-login.json", admin=True
        )
        base = settings.PUBLIC_BASE_URL
        self.stdout.write(
            f"  Engine: {base}/  log in as {DEMO_USERNAME} / {demo}\n"
            f"  Admin:  {base}/admin/  log in as {ADMIN_USERNAME} / {admin}\n"
        )
