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
