"""GoTo passes the shared integration suite (tests/integrations/suite.py).

The primary stream is one GoToWebinar's registrant list, read in pages; the sandbox's own
faults implement malformed bodies and token expiry, and a thin WSGI wrapper scripts
failures of that stream (429s, a 5xx, a refusal in GoTo's own words, a crash after some
pages), with the bodies GoTo answers them with.
"""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from liaison.contacts.models import Activity, Contact
from liaison.core.http import transports
from liaison.integrations import services as framework
from liaison.integrations.goto.models import Attendance, Registration
from liaison.integrations.models import SyncRun
from liaison.integrations.sync import run_sync
from liaison.sandbox.goto import GoToSandbox, SeedConfig
from tests.integrations.goto.conftest import API, Scripted, connect, create_account
from tests.integrations.suite import SharedIntegrationSuite


def registrant_pages(method: str, path: str) -> bool:
    """The primary stream: GoToWebinar registrant pages."""
    return method == "GET" and path.endswith("/registrants")


EMPTY = SeedConfig(organizers=1, webinars=0, live_webinars=0, trainings=0, meetings=0, assist_sessions=0)


class GoToHarness:
    page_size = 20

    def __init__(self, integration, sandbox: GoToSandbox, scripted: Scripted):
        self.integration = integration
        self.sandbox = sandbox
        self.scripted = scripted
        start = sandbox.now().replace(microsecond=0) + timedelta(days=3)
        self.webinar = sandbox.add_webinar("Harness webinar", [(start, start + timedelta(hours=1))])[0]
        self.count = 0

    def seed(self, count):
        for n in range(self.count, self.count + count):
            self.sandbox.add_registrant(self.webinar.webinar_key, f"Person{n}@Example.com", f"First{n}", f"Last{n}")
        self.count += count

    def run_sync(self, **options):
        try:
            run_sync(None, self.integration.pk, "test", options)
        except Exception:  # noqa: BLE001 - the run records the failure
            pass
        return SyncRun.objects.filter(integration=self.integration).latest("started_at")

    def snapshot(self):
        return {"facts": Registration.objects.count() + Attendance.objects.count(),
                "contacts": Contact.objects.count(), "activities": Activity.objects.count()}

    def crash_after_pages(self, pages):
        self.scripted.passed = 0
        self.scripted.fail(500, {"errorCode": "InternalServerError", "description": "crash", "incident": 1},
                           times=1000, when=registrant_pages, after=pages)

    def clear_faults(self):
        self.scripted.clear()
        self.sandbox.faults.reset()

    def fail_next(self, status, times=1, retry_after=None, message=""):
        if status == 429:  # GoTo's gateway answer (the sandbox's own 429 fault cycles for ever from call 0)
            headers = [("Retry-After", str(retry_after))] if retry_after is not None else []
            self.scripted.fail(429, {"message": "Too Many Requests"}, times=times, when=registrant_pages,
                               headers=headers)
            return
        code = "ServiceUnavailable" if status >= 500 else "InvalidRequest"
        self.scripted.fail(status, {"errorCode": code, "description": message or "failure",
                                    "incident": 3437843380023983360}, times=times, when=registrant_pages)

    def expire_token(self):
        self.sandbox.faults.expire_tokens()

    def token_refreshes(self):
        return self.sandbox.calls.count(path="/oauth/token", status=200)

    def malformed_next(self, times=1):
        self.sandbox.faults.configure(malformed_responses=times)

    def remote_calls(self):
        return self.sandbox.calls.total


@pytest.mark.postgres
class TestGoToIntegration(SharedIntegrationSuite):
    @pytest.fixture
    def harness(self, db, admin_user):
        sandbox = GoToSandbox(seed=11, config=EMPTY, sleep=lambda s: None)
        scripted = Scripted(sandbox)
        with transports.mounted(API, httpx.WSGITransport(app=scripted)):
            integration = create_account(admin_user, page_size=GoToHarness.page_size)
            framework.update_integration(integration, features={"training": False, "meeting": False,
                                                                "assist": False})
            connect(integration, sandbox)
            yield GoToHarness(integration, sandbox, scripted)
