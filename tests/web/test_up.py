"""`liaison up --demo` for real: migrate, admin, demo data, sandbox, three children, clean stop."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, timeout: float = 60.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer within {timeout} s")


def test_liaison_up_demo_serves_and_stops_cleanly(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIAISON_", "DJANGO_"))}
    env.update(LIAISON_VAR_DIR=str(tmp_path / "var"), DJANGO_SETTINGS_MODULE="liaison.settings",
               LIAISON_LOG_LEVEL="WARNING")
    process = subprocess.Popen([sys.executable, "-m", "liaison.cli", "up", "--demo", "--port", str(port)],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert wait_for(f"http://127.0.0.1:{port}/login/") == 200
        assert wait_for(f"http://127.0.0.1:{port}/sandbox/goto/_sandbox") == 200
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/static/liaison/liaison.css") as response:
            assert b".sidebar" in response.read()
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=40)
    assert process.returncode == 0, output
    assert "An administrator was created" in output and "Stopped." in output
    with sqlite3.connect(tmp_path / "var" / "liaison.sqlite3") as db:
        # 1,000 seeded contacts; the demo GoTo account's first sync may already have added its registrants.
        assert db.execute("SELECT count(*) FROM contacts_activity WHERE kind = 'contact.created' AND source = 'demo'"
                          ).fetchone()[0] == 1000
        assert db.execute("SELECT count(*) FROM contacts_contact").fetchone()[0] >= 1000
        # The demo's welcome e-mail went to 40 contacts, 2 of them marked do not contact.
        assert db.execute("SELECT status, count(*) FROM emails_send GROUP BY status ORDER BY status").fetchall() == [
            ("sent", 38), ("skipped", 2)]
        assert db.execute("SELECT count(*) FROM users_user WHERE is_superuser").fetchone()[0] == 1
