from __future__ import annotations

import pytest

from liaison.core.models import Job


@pytest.fixture
def deliver(run_on_commit):
    """Run the e-mail jobs a block queues (the test task backend runs them at once on commit)."""
    return run_on_commit


def jobs_of(kind: str) -> list[Job]:
    return list(Job.objects.filter(kind=kind).order_by("pk"))
