"""Fixtures for the sandbox tests. Nothing here needs Django."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from liaison.sandbox.common import OffsetClock
from liaison.sandbox.goto import GoToSandbox, SeedConfig

# A fixed, arbitrary "now" (not on the hour) so tests are independent of the wall clock.
NOW = datetime(2026, 3, 2, 10, 17, 30, tzinfo=UTC)
EVERYTHING = {"fromTime": "2000-01-01T00:00:00Z", "toTime": "2100-01-01T00:00:00Z"}


class Recorder:
    """An injectable ``deliver`` callable that records webhook deliveries."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.calls: list[tuple[str, dict[str, str], bytes]] = []

    def __call__(self, url: str, headers: dict[str, str], body: bytes) -> int:
        self.calls.append((url, headers, body))
        return self.status


@pytest.fixture
def clock() -> OffsetClock:
    return OffsetClock(lambda: NOW)


@pytest.fixture
def deliveries() -> Recorder:
    return Recorder()


@pytest.fixture
def sandbox(clock: OffsetClock, deliveries: Recorder) -> GoToSandbox:
    config = SeedConfig(organizers=2, webinars=30, registrants_per_webinar=30)
    return GoToSandbox(seed=7, config=config, clock=clock, deliver=deliveries, sleep=lambda s: None)


@pytest.fixture
def client(sandbox: GoToSandbox) -> httpx.Client:
    with httpx.Client(transport=httpx.WSGITransport(app=sandbox), base_url="http://sandbox") as c:
        yield c


@pytest.fixture
def token(sandbox: GoToSandbox) -> dict:
    return sandbox.mint_token()


@pytest.fixture
def auth(token: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {token['access_token']}"}


@pytest.fixture
def organizer(sandbox: GoToSandbox):
    return sandbox.default_organizer()


@pytest.fixture
def ok(organizer) -> int:
    return organizer.organizer_key


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture
def everything() -> dict[str, str]:
    """A fromTime/toTime window that covers all seeded data."""
    return dict(EVERYTHING)


@pytest.fixture
def recorder_factory():
    return Recorder
