"""``liaison sync goto [--product ...] [--id KEY] [--full]`` with a progress bar and a summary."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from liaison.integrations.goto.models import Event
from liaison.integrations.models import SyncRun
from tests.integrations.goto.conftest import slot


@pytest.mark.django_db(transaction=True)
def test_cli_sync_goto(account, sandbox, capsys):
    call_command("sync", "goto", "--product", "webinar")
    out = capsys.readouterr().out
    assert "Marketing GoTo: Succeeded" in out and "API calls." in out
    assert SyncRun.objects.get().options == {"product": "webinar"}
    assert not Event.objects.exclude(product="webinar").exists()
    webinar = sandbox.add_webinar("CLI only", [slot(sandbox, days=9)])[0]
    call_command("sync", "goto", "--product", "webinar", "--id", str(webinar.webinar_key), "--full")
    out = capsys.readouterr().out
    assert "Succeeded" in out and Event.objects.filter(title="CLI only").exists()
    with pytest.raises(CommandError) as info:
        call_command("sync", "goto", "--product", "webinars")
    assert "Unknown product “webinars”: use webinar, training, meeting or assist." in str(info.value)
    with pytest.raises(CommandError) as info:
        call_command("sync", "goto", "--id", "123")
    assert "Say which product the event belongs to" in str(info.value)
