"""API tokens: how scripts and the JSON API authenticate as a merchant.

Only a SHA-256 hash of each token is stored. The tokens are 256 random bits, so a fast hash is
enough (there is nothing to brute-force, unlike a password), and it lets a request find its
token with one indexed lookup. The raw token is shown once, when it is made.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import models
from django.utils import timezone

# A recognisable prefix lets secret scanners and people tell what a leaked string is.
TOKEN_PREFIX = "cat_"
# Recording every use would be a write per API call; once a minute is precise enough.
LAST_USED_PRECISION = timedelta(minutes=1)


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, help_text="What uses it, e.g. 'deploy script'.")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    # The first characters of the raw token, so a merchant can tell tokens apart.
    hint = models.CharField(max_length=12, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["user", "name", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.hint}…)"

    def set_new_token(self) -> str:
        """Give this row a fresh token; returns the raw token, which is not kept anywhere."""
        raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
        self.token_hash = hash_token(raw)
        self.hint = raw[:12]
        return raw

    @classmethod
    def create_for(cls, user: AbstractBaseUser, name: str) -> tuple[ApiToken, str]:
        """A new token for `user`: the saved row and the raw token to show once."""
        token = cls(user=user, name=name)
        raw = token.set_new_token()
        token.save()
        return token, raw

    @classmethod
    def authenticate(cls, raw: str) -> AbstractBaseUser | None:
        """The active user whose token this is, or None; records when it was last used."""
        if not raw.startswith(TOKEN_PREFIX):
            return None
        token = (
            cls.objects.select_related("user")
            .filter(token_hash=hash_token(raw), user__is_active=True)
            .first()
        )
        if token is None:
            return None
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_PRECISION:
            cls.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user


# The merchant's settings (time zone) live in their own module.
from accounts.models_profile import Profile  # noqa: E402,F401
