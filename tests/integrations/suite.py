"""The shared integration test suite (ARCHITECTURE.md, "Tests").

Every integration passes it. A test module subclasses ``SharedIntegrationSuite`` and
provides a ``harness`` fixture: an object with the methods of ``Harness`` below, driving
the integration against its sandbox (or test provider). The suite then proves: the
first sync stores everything, a re-run changes nothing, a crash between pages loses
nothing and the next run resumes, empty answers, 429 then success, token expiry then
refresh, 5xx then success, provider errors reach the run in the provider's words, and
a malformed payload is refused with nothing stored.
"""

from __future__ import annotations

from typing import Protocol

from liaison.integrations.models import SyncRun


class Harness(Protocol):
    page_size: int  # records per page of the primary stream

    def seed(self, count: int) -> None:
        """Create ``count`` more remote records in the primary stream."""

    def run_sync(self, **options) -> SyncRun:
        """Run one sync to its end in this process and return its SyncRun (never raises)."""

    def snapshot(self) -> dict[str, int]:
        """Counts of what is stored locally: {"facts": ..., "contacts": ..., "activities": ...}."""

    def crash_after_pages(self, pages: int) -> None:
        """Make the next sync die after ``pages`` pages of the primary stream were stored."""

    def clear_faults(self) -> None: ...

    def fail_next(self, status: int, times: int = 1, retry_after: int | None = None, message: str = "") -> None:
        """The next ``times`` calls of the primary stream answer ``status`` (with the provider's
        error body carrying ``message``)."""

    def expire_token(self) -> None: ...

    def token_refreshes(self) -> int: ...

    def malformed_next(self, times: int = 1) -> None:
        """The next ``times`` pages of the primary stream are not valid JSON."""

    def remote_calls(self) -> int:
        """Calls the provider has received so far."""


class SharedIntegrationSuite:
    def test_first_sync_stores_everything(self, harness):
        harness.seed(harness.page_size * 2 + 3)
        run = harness.run_sync()
        assert run.status == SyncRun.Status.SUCCEEDED, run.message
        assert harness.snapshot()["facts"] >= harness.page_size * 2 + 3
        assert run.fetched >= harness.page_size * 2 + 3 and run.api_calls >= 3
        assert run.api_summary and all("path" in row for row in run.api_summary)

    def test_rerun_changes_nothing(self, harness):
        harness.seed(harness.page_size + 5)
        assert harness.run_sync().status == SyncRun.Status.SUCCEEDED
        before = harness.snapshot()
        again = harness.run_sync(full=True)
        assert again.status == SyncRun.Status.SUCCEEDED, again.message
        assert harness.snapshot() == before
        assert again.created == 0

    def test_resume_after_a_crash_between_pages(self, harness):
        total = harness.page_size * 3
        harness.seed(total)
        harness.crash_after_pages(1)
        crashed = harness.run_sync()
        assert crashed.status == SyncRun.Status.FAILED
        stored = harness.snapshot()["facts"]
        assert 0 < stored < total
        harness.clear_faults()
        calls_before = harness.remote_calls()
        resumed = harness.run_sync()
        assert resumed.status == SyncRun.Status.SUCCEEDED, resumed.message
        assert harness.snapshot()["facts"] >= total
        # Pages already stored are not fetched again.
        assert harness.remote_calls() - calls_before < total // harness.page_size + 3

    def test_empty_provider(self, harness):
        run = harness.run_sync()
        assert run.status == SyncRun.Status.SUCCEEDED, run.message
        assert harness.snapshot()["facts"] == 0

    def test_rate_limited_then_success(self, harness):
        harness.seed(harness.page_size + 1)
        harness.fail_next(429, times=2, retry_after=0)
        run = harness.run_sync()
        assert run.status == SyncRun.Status.SUCCEEDED, run.message
        assert harness.snapshot()["facts"] >= harness.page_size + 1
        assert any("429" in row["statuses"] for row in run.api_summary)

    def test_token_expiry_then_refresh(self, harness):
        harness.seed(3)
        assert harness.run_sync().status == SyncRun.Status.SUCCEEDED
        refreshes = harness.token_refreshes()
        harness.expire_token()
        harness.seed(2)
        run = harness.run_sync()
        assert run.status == SyncRun.Status.SUCCEEDED, run.message
        assert harness.token_refreshes() == refreshes + 1

    def test_server_error_is_retried(self, harness):
        harness.seed(4)
        harness.fail_next(503, times=1)
        run = harness.run_sync()
        assert run.status == SyncRun.Status.SUCCEEDED, run.message
        assert harness.snapshot()["facts"] >= 4

    def test_provider_error_reaches_the_run_in_words(self, harness):
        harness.seed(4)
        harness.fail_next(400, times=50, message="The account is suspended for unpaid invoices")
        run = harness.run_sync()
        assert run.status == SyncRun.Status.FAILED
        text = run.message + " ".join(e["message"] for e in run.errors)
        assert "The account is suspended for unpaid invoices" in text
        assert "Bad request" not in text

    def test_malformed_payload_is_refused_and_nothing_stored(self, harness):
        harness.seed(4)
        harness.malformed_next(times=50)
        run = harness.run_sync()
        assert run.status == SyncRun.Status.FAILED
        assert harness.snapshot()["facts"] == 0
        assert "not valid JSON" in run.message or "nothing was stored" in run.message

