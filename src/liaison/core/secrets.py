"""Secrets at rest: encrypted model fields on MultiFernet, and key rotation.

The first key of ``settings.FERNET_KEYS`` encrypts; every key decrypts, so a new key
can be put first while old values stay readable until ``liaison secrets rotate``
re-encrypts them.
"""

from __future__ import annotations

import json
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models, transaction


class SecretDecryptionError(RuntimeError):
    """A stored secret cannot be decrypted with any configured key."""


@lru_cache(maxsize=4)
def _fernet_for(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("No Fernet key is configured (LIAISON_FERNET_KEYS or var/fernet.keys).")
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(f"A Fernet key is malformed: {exc}") from None


def fernet() -> MultiFernet:
    return _fernet_for(tuple(settings.FERNET_KEYS))


def encrypt(plain: str) -> str:
    return fernet().encrypt(plain.encode()).decode()


def reload_keys_from_file() -> bool:
    """Re-read var/fernet.keys (after ``liaison secrets rotate`` in another process)."""
    from liaison.core import config

    if config.env_list("LIAISON_FERNET_KEYS"):
        return False
    keys = config.fernet_keys(settings.VAR_DIR)
    if keys == list(settings.FERNET_KEYS):
        return False
    settings.FERNET_KEYS = keys
    return True


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        # Another process may have rotated the keys: look once more before failing.
        if reload_keys_from_file():
            return decrypt(token)
        raise SecretDecryptionError(
            "A stored secret cannot be decrypted: the key that encrypted it is no longer configured."
        ) from None


class EncryptedTextField(models.TextField):
    """A text value stored as a Fernet token. Empty strings are stored as empty."""

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return decrypt(value)

    def to_python(self, value):
        return value

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(str(value))


class EncryptedJSONField(models.TextField):
    """A JSON object stored as one Fernet token (for a set of secret settings)."""

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return {}
        return json.loads(decrypt(value))

    def to_python(self, value):
        if isinstance(value, str):
            return json.loads(value) if value else {}
        return value or {}

    def get_prep_value(self, value):
        if value is None:
            value = {}
        return encrypt(json.dumps(value, sort_keys=True))

    def value_to_string(self, obj):
        # Never serialise plaintext secrets in dumps.
        return ""


def encrypted_fields() -> list[tuple[type[models.Model], list[str]]]:
    """Every (model, [field names]) holding encrypted values."""
    found = []
    for model in apps.get_models():
        names = [
            f.name for f in model._meta.concrete_fields if isinstance(f, (EncryptedTextField, EncryptedJSONField))
        ]
        if names:
            found.append((model, names))
    return found


def rotate_all(batch_size: int = 500) -> dict[str, int]:
    """Re-encrypt every stored secret with the current primary key.

    Reads the raw tokens and rotates them without ever holding plaintext in a model
    instance; one transaction per batch, so an interruption leaves every value
    readable (old or new key) and a re-run finishes the job.
    """
    counts: dict[str, int] = {}
    for model, names in encrypted_fields():
        label = model._meta.label
        counts[label] = 0
        qs = model._base_manager.order_by("pk")
        last_pk = None
        while True:
            page = qs if last_pk is None else qs.filter(pk__gt=last_pk)
            # Decrypted values (any configured key); writing them back encrypts them
            # with the primary key.
            rows = list(page.values_list("pk", *names)[:batch_size])
            if not rows:
                break
            with transaction.atomic():
                for row in rows:
                    pk, values = row[0], row[1:]
                    update = {}
                    for name, plain in zip(names, values, strict=True):
                        # Empty text is stored as is; JSON values (even {}) are stored encrypted.
                        if plain is None or (plain == "" and isinstance(model._meta.get_field(name),
                                                                         EncryptedTextField)):
                            continue
                        update[name] = plain
                    if update:
                        model._base_manager.filter(pk=pk).update(**update)
                        counts[label] += 1
            last_pk = rows[-1][0]
    return counts
