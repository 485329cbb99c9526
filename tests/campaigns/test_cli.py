"""liaison campaigns run / list."""

import pytest
from django.core.management import CommandError, call_command

from liaison.campaigns.models import Enrollment
from liaison.core.models import Job
from tests.campaigns.helpers import audience, campaign
from tests.testapp import campaign_steps as example


@pytest.mark.django_db(transaction=True)
def test_cli_runs_a_campaign_and_lists_them(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # rich wraps the table to the terminal's width
    segment, contacts = audience("Ada", "Bob")
    found = campaign(segment, [("example.tag", {"tag": "cli"})], publish=False)
    with pytest.raises(CommandError, match="Publish the campaign first"):
        call_command("campaigns", "run", "--campaign", str(found.pk))
    from liaison.campaigns import services

    services.publish(found)  # its own run is queued, and runs at once with the test task backend
    Enrollment.objects.all().delete()
    example.CALLS.clear()
    call_command("campaigns", "run", "--campaign", str(found.pk))
    out = capsys.readouterr().out
    assert "2 contacts enrolled, 2 steps run (2 done, 0 failed" in out
    assert sorted(c["email"] for c in example.CALLS) == sorted(c.email for c in contacts)
    assert Job.objects.filter(kind="campaigns.run", status="succeeded").count() >= 2
    call_command("campaigns", "run")
    assert "0 contacts enrolled, 0 steps run" in capsys.readouterr().out
    call_command("campaigns", "list")
    out = capsys.readouterr().out
    assert "Test campaign" in out and "Published" in out
    with pytest.raises(CommandError, match="no campaign #999"):
        call_command("campaigns", "run", "--campaign", "999")
