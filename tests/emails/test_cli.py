"""The ``liaison emails`` command."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from liaison.emails.models import Send
from tests.factories import ContactFactory, EmailFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_send_preview_list_show_and_recover(smtp_server, capsys):
    email = EmailFactory(name="Welcome")
    ContactFactory(email="ann@example.com", first_name="Ann")
    call_command("emails", "send", "--email", str(email.pk), "--contact", "ann@example.com", "--context",
                 '{"source": "cli"}')
    send = Send.objects.get()
    assert send.status == "sent" and send.context == {"source": "cli"}
    assert [m.to for m in smtp_server.messages] == ["ann@example.com"]
    call_command("emails", "preview", "--email", str(email.pk), "--contact", "ann@example.com")
    out = capsys.readouterr().out
    assert "Subject: Hello Ann" in out and "Read the news (https://example.com/news)" in out
    call_command("emails", "list")
    assert "Welcome" in capsys.readouterr().out
    call_command("emails", "show", str(email.pk))
    assert "ann@example.com" in capsys.readouterr().out
    Send.objects.update(status="sending", claim="x:y", claimed_at=timezone.now() - timedelta(hours=2))
    call_command("emails", "recover")
    assert "1 send(s) marked failed" in capsys.readouterr().out
    call_command("emails", "test", "--email", str(email.pk), "--to", "me@example.com")
    assert smtp_server.messages[-1].header("Subject") == "[Test] Hello Alex"


def test_clear_errors(smtp_server):
    email = EmailFactory()
    with pytest.raises(CommandError, match="There is no e-mail #999"):
        call_command("emails", "send", "--email", "999", "--contact", "a@example.com")
    with pytest.raises(CommandError, match="No contact matches"):
        call_command("emails", "send", "--email", str(email.pk), "--contact", "nobody@example.com")
    ContactFactory(email="a@example.com")
    with pytest.raises(CommandError, match="--context is not valid JSON"):
        call_command("emails", "send", "--email", str(email.pk), "--contact", "a@example.com", "--context", "{")
    with pytest.raises(CommandError, match="not published"):
        call_command("emails", "send", "--email", str(EmailFactory(published=False).pk), "--contact",
                     "a@example.com")
    assert not Send.objects.exists() and smtp_server.messages == []


def test_broadcast_pause_resume_and_cancel_from_the_command_line(smtp_server, capsys, monkeypatch):
    from liaison.emails import broadcasts, services
    from liaison.emails.models import Broadcast
    from liaison.segments import services as segments

    people = [ContactFactory() for _ in range(4)]
    seg = segments.save_segment({"name": "Readers"})
    segments.add_static(seg, [p.pk for p in people[:3]])
    email = services.save_email({"name": "News", "subject": "s", "kind": "segment",
                                 "html": '<p>x <a href="{unsubscribe_url}">u</a></p>',
                                 "audiences": [{"audience": "segments.segment", "values": [str(seg.pk)]}]})
    call_command("emails", "recipients", str(email.pk))
    assert "3 new recipient(s)" in capsys.readouterr().out
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    with pytest.raises(CommandError, match="Not sent"):
        call_command("emails", "broadcast", str(email.pk))
    assert smtp_server.messages == []
    call_command("emails", "broadcast", str(email.pk), "--yes")
    out = capsys.readouterr().out
    assert "Sent: 3 sent, 0 failed, 0 not sent" in out and len(smtp_server.messages) == 3
    with pytest.raises(CommandError, match="Only a broadcast being sent can be paused"):
        call_command("emails", "pause", str(email.pk))
    segments.add_static(seg, [people[3].pk])  # a new member
    broadcasts.start(email, dispatch=False)  # as if a worker were about to run it
    call_command("emails", "pause", str(email.pk))
    assert Broadcast.objects.get(email=email).status == "paused"
    call_command("emails", "resume", str(email.pk))
    assert len(smtp_server.messages) == 4 and Broadcast.objects.get(email=email).status == "finished"
    with pytest.raises(CommandError, match="can be resumed"):
        call_command("emails", "resume", str(email.pk))
    with pytest.raises(CommandError, match="can be cancelled"):
        call_command("emails", "cancel", str(email.pk))
    assert broadcasts.stats(email)["sent"] == 4
