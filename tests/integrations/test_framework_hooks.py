"""Framework hooks an integration can use: its own pages under /integrations/<key>/, its own
account page, and exact call counts when a sync fetches from several threads."""

from __future__ import annotations

import threading

import pytest
from django.urls import reverse

from liaison.core.http import CallRecord
from liaison.integrations import services
from liaison.integrations.models import SyncRun
from liaison.integrations.sync import SyncContext


def test_a_spec_s_url_patterns_are_mounted_under_its_key():
    assert reverse("integrations:goto:events", args=[7]) == "/integrations/goto/7/events/"


@pytest.mark.django_db
def test_a_spec_s_detail_template_extends_the_account_page(admin_client, admin_user):
    example = services.create_integration("example", "Plain", {"base_url": "http://example.test"}, user=admin_user)
    goto = services.create_integration("goto", "With pages", {"client_id": "x"}, user=admin_user)
    plain = admin_client.get(f"/integrations/{example.pk}/").content.decode()
    extended = admin_client.get(f"/integrations/{goto.pk}/").content.decode()
    assert "GoTo products" not in plain and "Recent sync runs" in plain
    assert "GoTo products" in extended and "Recent sync runs" in extended and "Synchronisation" in extended


@pytest.mark.django_db
def test_calls_recorded_by_other_threads_are_counted_exactly(admin_user):
    integration = services.create_integration("example", "Threads", {"base_url": "http://example.test"},
                                              user=admin_user)
    ctx = SyncContext(integration, SyncRun.objects.create(integration=integration))

    def record(n):
        for _ in range(n):
            ctx.audit.record(CallRecord("GET", "/things", 200, 1.0))

    threads = [threading.Thread(target=record, args=(250,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for _ in range(20):
        ctx.flush()  # flushing while the other threads record
    for thread in threads:
        thread.join()
    ctx.flush()
    assert SyncRun.objects.get(pk=ctx.run.pk).api_calls == 1000
    assert ctx.api_summary()[0]["calls"] == 1000
