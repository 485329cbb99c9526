"""The SQLite writers' gate: re-entrant, skipped inside transactions, shared by processes."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest
from django.db import transaction

from liaison.core import writegate

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_gate_is_reentrant_and_open_inside_a_transaction(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    with writegate.writer():
        with writegate.writer():  # on-commit work of a gated write writes again
            pass
    with transaction.atomic(), writegate.writer():
        pass


def test_the_gate_serializes_threads_and_processes(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    order = []

    def other():
        with writegate.writer():
            order.append("thread")

    with writegate.writer():
        thread = threading.Thread(target=other)
        thread.start()
        time.sleep(0.2)
        order.append("holder")
        code = ("import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR);"
                "fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)")
        busy = subprocess.run([sys.executable, "-c", code, str(tmp_path / "sqlite-writers.lock")],
                              capture_output=True)
        assert busy.returncode != 0  # another process cannot pass while we hold it
    thread.join()
    assert order == ["holder", "thread"]
