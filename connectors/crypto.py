"""Encryption at rest for tokens: Fernet keys from FIELD_ENCRYPTION_KEYS, newest first.

MultiFernet decrypts with any listed key and encrypts with the first, so rotating is: put a
new key in front, run `manage.py rotate_encryption_keys`, then drop the old key.
"""

import base64
import hashlib
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models


class DecryptionFailed(Exception):
    """No configured key opens this value: a key was dropped before rotating."""


@cache
def fernet() -> MultiFernet:
    keys = list(settings.FIELD_ENCRYPTION_KEYS)
    if not keys:
        # A local checkout needs no set-up: derive one key from SECRET_KEY.
        digest = hashlib.sha256(f"field-encryption:{settings.SECRET_KEY}".encode()).digest()
        keys = [base64.urlsafe_b64encode(digest).decode()]
    return MultiFernet([Fernet(key.encode()) for key in keys])


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
