"""Reading Liaison's configuration from the environment (12-factor).

This module is imported by ``liaison.settings`` before Django is configured, so it
depends on the standard library only.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit


class ConfigError(ValueError):
    """An environment variable holds a value Liaison cannot use."""


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be a boolean (1/0, true/false, yes/no, on/off), not {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return list(default or [])
    return [item.strip() for item in raw.split(",") if item.strip()]


def var_dir() -> Path:
    """The directory holding the embedded database, generated keys and uploads."""
    path = Path(env_str("LIAISON_VAR_DIR", "var")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def _read_or_create(path: Path, make: callable) -> str:
    """Read a generated secret, creating it (mode 0600) on first run."""
    if path.exists():
        return path.read_text().strip()
    value = make()
    # O_EXCL: two processes starting at once must not write two different keys.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return value


def secret_key(var: Path) -> str:
    explicit = env_str("LIAISON_SECRET_KEY")
    if explicit:
        return explicit
    return _read_or_create(var / "secret_key", lambda: secrets.token_urlsafe(50))


def new_fernet_key() -> str:
    import base64

    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def fernet_keys_path(var: Path) -> Path:
    return var / "fernet.keys"


def fernet_keys(var: Path) -> list[str]:
    """Fernet keys, newest first. The first encrypts; all of them decrypt."""
    explicit = env_list("LIAISON_FERNET_KEYS")
    if explicit:
        return explicit
    content = _read_or_create(fernet_keys_path(var), new_fernet_key)
    return [line.strip() for line in content.splitlines() if line.strip()]


@dataclass(frozen=True)
class DatabaseURL:
    engine: str
    name: str
    user: str = ""
    password: str = ""
    host: str = ""
    port: str = ""
    options: dict | None = None


def parse_database_url(url: str) -> DatabaseURL:
    """Parse ``postgresql://user:pass@host:port/name?sslmode=require`` or ``sqlite:///path``."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    options = dict(parse_qsl(parts.query))
    if scheme in {"postgres", "postgresql", "pgsql"}:
        name = unquote(parts.path.lstrip("/"))
        if not name:
            raise ConfigError("LIAISON_DATABASE_URL must name a database, e.g. postgresql://user@host/liaison")
        return DatabaseURL(
            engine="django.db.backends.postgresql",
            name=name,
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            host=parts.hostname or "",
            port=str(parts.port or ""),
            options=options,
        )
    if scheme == "sqlite":
        # sqlite:///relative/path or sqlite:////absolute/path
        path = unquote(parts.path)
        if path.startswith("/") and not path.startswith("//"):
            path = path[1:]
        elif path.startswith("//"):
            path = path[1:]
        if not path:
            raise ConfigError("LIAISON_DATABASE_URL for SQLite needs a file path, e.g. sqlite:///var/liaison.sqlite3")
        return DatabaseURL(engine="django.db.backends.sqlite3", name=path, options=options)
    raise ConfigError(f"LIAISON_DATABASE_URL scheme {scheme!r} is not supported (use postgresql:// or sqlite:///)")


def sqlite_database(path: str | Path) -> dict:
    """Django settings for SQLite in WAL mode, tuned for one writer at a time."""
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        # Keep a thread's connection between requests: opening one runs the PRAGMAs below,
        # which costs more than a small request's queries.
        "CONN_MAX_AGE": env_int("LIAISON_DB_CONN_MAX_AGE", 60),
        "OPTIONS": {
            # IMMEDIATE: a write transaction takes the lock at BEGIN, so concurrent
            # writers wait (busy timeout) instead of failing on lock upgrade.
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": (
                "PRAGMA journal_mode=WAL;"
                "PRAGMA synchronous=NORMAL;"
                "PRAGMA foreign_keys=ON;"
                "PRAGMA temp_store=MEMORY;"
                "PRAGMA mmap_size=134217728;"
                "PRAGMA cache_size=-65536;"
            ),
        },
    }


def database_settings(url: str, var: Path) -> dict:
    if not url:
        return sqlite_database(var / "liaison.sqlite3")
    parsed = parse_database_url(url)
    if parsed.engine.endswith("sqlite3"):
        return sqlite_database(parsed.name)
    options = dict(parsed.options or {})
    return {
        "ENGINE": parsed.engine,
        "NAME": parsed.name,
        "USER": parsed.user,
        "PASSWORD": parsed.password,
        "HOST": parsed.host,
        "PORT": parsed.port,
        "CONN_MAX_AGE": env_int("LIAISON_DB_CONN_MAX_AGE", 60),
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": options,
    }
