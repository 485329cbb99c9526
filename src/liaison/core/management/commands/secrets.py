from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from liaison.core import config
from liaison.core import secrets as secret_store


class Command(BaseCommand):
    help = "Manage the encryption keys of stored secrets. 'rotate' adds a new key and re-encrypts every secret."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["rotate", "status"])
        parser.add_argument("--drop-old", action="store_true",
                            help="After re-encrypting, remove the old keys (restart every Liaison process first).")

    def handle(self, *args, action, drop_old, **options):
        from_env = bool(config.env_list("LIAISON_FERNET_KEYS"))
        if action == "status":
            self.stdout.write(f"{len(settings.FERNET_KEYS)} key(s) configured "
                              f"({'LIAISON_FERNET_KEYS' if from_env else config.fernet_keys_path(settings.VAR_DIR)}).")
            for model, names in secret_store.encrypted_fields():
                self.stdout.write(f"  {model._meta.label}: {', '.join(names)}")
            return
        if from_env:
            new_key = config.new_fernet_key()
            raise CommandError(
                "The keys come from LIAISON_FERNET_KEYS. Put a new key first in that variable on every process, "
                f"restart them, then run 'liaison secrets rotate' again to re-encrypt. A fresh key: {new_key}")
        path = config.fernet_keys_path(settings.VAR_DIR)
        keys = [config.new_fernet_key(), *settings.FERNET_KEYS]
        path.write_text("\n".join(keys) + "\n")
        path.chmod(0o600)
        settings.FERNET_KEYS = keys
        counts = secret_store.rotate_all()
        total = sum(counts.values())
        self.stdout.write(self.style.SUCCESS(f"New key added; {total} record(s) re-encrypted with it."))
        for label, count in counts.items():
            self.stdout.write(f"  {label}: {count}")
        if drop_old:
            path.write_text(keys[0] + "\n")
            settings.FERNET_KEYS = keys[:1]
            self.stdout.write("Old keys removed. Processes still running with the old list re-read the file on "
                              "their next decryption.")
        else:
            self.stdout.write("Old keys are kept so that running processes keep working; run again with --drop-old "
                              "to remove them.")
