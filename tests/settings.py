"""Settings for the test suite: Liaison's settings with test-friendly services.

``LIAISON_TEST_DB=postgres`` runs on PostgreSQL (``LIAISON_TEST_DATABASE_URL``, by
default a database named after this checkout, so two checkouts never collide).
"""

import hashlib
import os
import tempfile
from pathlib import Path

_checkout = Path(__file__).resolve().parent.parent
_tag = hashlib.sha1(str(_checkout).encode()).hexdigest()[:8]

os.environ.setdefault("LIAISON_VAR_DIR", str(Path(tempfile.gettempdir()) / f"liaison-tests-{_tag}-{os.getpid()}"))
os.environ["LIAISON_TASK_BACKEND"] = os.environ.get("LIAISON_TEST_TASK_BACKEND", "immediate")
os.environ["LIAISON_RATE_LIMIT_BACKEND"] = "memory"
os.environ["LIAISON_EMAIL_BACKEND"] = "memory"
os.environ.pop("LIAISON_DATABASE_URL", None)
os.environ.setdefault("LIAISON_BASE_URL", "http://testserver")
if os.environ.get("LIAISON_TEST_DB") == "postgres":
    os.environ["LIAISON_DATABASE_URL"] = os.environ.get(
        "LIAISON_TEST_DATABASE_URL", f"postgresql://postgres@127.0.0.1:5432/liaison_{_tag}")

from liaison.settings import *  # noqa: E402,F401,F403
from liaison.settings import INSTALLED_APPS  # noqa: E402

INSTALLED_APPS = [*INSTALLED_APPS, "tests.testapp"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
ALLOWED_HOSTS = ["*"]
TEST_CHECKOUT_TAG = _tag

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not shared-cache memory: WAL and the busy timeout then behave as in
    # production (shared-cache memory databases fail at once with "table is locked").
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}  # noqa: F405
