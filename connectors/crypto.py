"""Encryption at rest for tokens: Fernet keys from FIELD_ENCRYPTION_KEYS, newest first.

MultiFernet decrypts with any listed key and encrypts with the first, so rotating is: put a
new key in front, run `manage.py rotate_encryption_keys`, then drop the old key. The keys are
required unless DEBUG (a local checkout derives one from SECRET_KEY); connectors/checks.py
checks them when any process starts.
"""

import base64
import hashlib
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

HOW_TO_MAKE_ONE = (
    'make one with: python -c "from cryptography.fernet import Fernet; '
    'print(Fernet.generate_key().decode())"'
)


class DecryptionFailed(Exception):
    """No configured key opens this value: a key was dropped before rotating."""


def keys_from_settings() -> MultiFernet:
    """The configured keys; ImproperlyConfigured naming FIELD_ENCRYPTION_KEYS if unusable."""
    keys = list(settings.FIELD_ENCRYPTION_KEYS)
    if not keys:
        if not settings.DEBUG:
            raise ImproperlyConfigured(
                "FIELD_ENCRYPTION_KEYS is not set: shop tokens are encrypted with it, and only "
                f"a DEBUG checkout may derive a key from SECRET_KEY; {HOW_TO_MAKE_ONE}"
            )
        # A local checkout needs no set-up: derive one key from SECRET_KEY.
        digest = hashlib.sha256(f"field-encryption:{settings.SECRET_KEY}".encode()).digest()
        keys = [base64.urlsafe_b64encode(digest).decode()]
    fernets = []
    for position, key in enumerate(keys, start=1):
        try:
            fernets.append(Fernet(key.encode()))
        except (ValueError, TypeError):
            raise ImproperlyConfigured(
                f"FIELD_ENCRYPTION_KEYS: key {position} of {len(keys)} is not a Fernet key "
                f"(32 bytes in URL-safe base64); {HOW_TO_MAKE_ONE}"
            ) from None
    return MultiFernet(fernets)


@cache
def fernet() -> MultiFernet:
    return keys_from_settings()


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    try:
        return fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        raise DecryptionFailed("no configured FIELD_ENCRYPTION_KEYS key opens this value") from None


def rotate(ciphertext: str) -> str:
    return fernet().rotate(ciphertext.encode()).decode()


class EncryptedTextField(models.TextField):
    """A text column stored encrypted; Python code only ever sees the plaintext."""

    def from_db_value(self, value, expression, connection):
        if value in (None, ""):
            return value
        return decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value in (None, ""):
            return value
        return encrypt(value)
