"""Shared by the benchmarks: a fresh database (SQLite file or PostgreSQL) and Django, in this process."""

from __future__ import annotations

import os
import tempfile

PG_URL = os.environ.get("LIAISON_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/liaison_bench")


def setup_django(db: str, prefix: str, **env: str) -> None:
    """Point Liaison at an empty database (``db``: sqlite or postgres), set ``env``, migrate."""
    os.environ["LIAISON_VAR_DIR"] = tempfile.mkdtemp(prefix=f"liaison-bench-{prefix}-{db}-")
    os.environ["LIAISON_TASK_BACKEND"] = "immediate"
    os.environ.update(env)
    if db == "postgres":
        import psycopg

        name = PG_URL.rsplit("/", 1)[1]
        with psycopg.connect(PG_URL.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        os.environ["LIAISON_DATABASE_URL"] = PG_URL
    else:
        os.environ.pop("LIAISON_DATABASE_URL", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "liaison.settings"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
