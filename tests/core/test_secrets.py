"""Secrets at rest: encrypted fields, key rotation, write-only behaviour."""

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from liaison.core import config
from liaison.core.models import Credential
from liaison.core.secrets import SecretDecryptionError, decrypt, encrypt, rotate_all
from liaison.integrations.models import Integration


def raw(table: str, column: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])
        return cursor.fetchone()[0]


@pytest.mark.django_db
@pytest.mark.postgres
def test_secrets_are_encrypted_in_the_database():
    integration = Integration.objects.create(spec_key="example", name="A", secrets={"client_secret": "s3cr3t"})
    credential = Credential.objects.create(key="k", access_token="access-123", refresh_token="refresh-456")
    assert "s3cr3t" not in raw("integrations_integration", "secrets", integration.pk)
    assert "access-123" not in raw("core_credential", "access_token", credential.pk)
    integration.refresh_from_db()
    credential.refresh_from_db()
    assert integration.secrets == {"client_secret": "s3cr3t"} and credential.refresh_token == "refresh-456"


@pytest.mark.django_db
def test_rotation_re_encrypts_with_the_new_key(settings):
    old = settings.FERNET_KEYS
    integration = Integration.objects.create(spec_key="example", name="A", secrets={"client_secret": "s"})
    before = raw("integrations_integration", "secrets", integration.pk)
    new_key = Fernet.generate_key().decode()
    settings.FERNET_KEYS = [new_key, *old]
    counts = rotate_all()
    assert counts["integrations.Integration"] == 1
    after = raw("integrations_integration", "secrets", integration.pk)
    assert after != before
    Fernet(new_key.encode()).decrypt(after.encode())  # the new key alone can read it
    settings.FERNET_KEYS = [new_key]
    integration.refresh_from_db()
    assert integration.secrets == {"client_secret": "s"}


def test_unknown_key_fails_clearly(settings, tmp_path, monkeypatch):
    monkeypatch.delenv("LIAISON_FERNET_KEYS", raising=False)
    token = encrypt("x")
    other = Fernet.generate_key().decode()
    settings.FERNET_KEYS = [other]
    settings.VAR_DIR = tmp_path
    config.fernet_keys_path(tmp_path).write_text(other + "\n")
    with pytest.raises(SecretDecryptionError) as info:
        decrypt(token)
    assert "no longer configured" in str(info.value)


def test_a_key_rotated_by_another_process_is_picked_up(settings, tmp_path, monkeypatch):
    monkeypatch.delenv("LIAISON_FERNET_KEYS", raising=False)
    new = Fernet.generate_key().decode()
    token = Fernet(new.encode()).encrypt(b"rotated").decode()
    settings.VAR_DIR = tmp_path
    config.fernet_keys_path(tmp_path).write_text(new + "\n")
    assert decrypt(token) == "rotated" and settings.FERNET_KEYS == [new]


@pytest.mark.django_db
def test_rotate_command_writes_a_new_key_file(settings, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("LIAISON_FERNET_KEYS", raising=False)
    settings.VAR_DIR = tmp_path
    config.fernet_keys_path(tmp_path).write_text("\n".join(settings.FERNET_KEYS) + "\n")
    Credential.objects.create(key="k", access_token="token")
    call_command("secrets", "rotate", "--drop-old")
    keys = config.fernet_keys_path(tmp_path).read_text().split()
    assert len(keys) == 1 and settings.FERNET_KEYS == keys
    assert Credential.objects.get(key="k").access_token == "token"
    assert "re-encrypted" in capsys.readouterr().out
