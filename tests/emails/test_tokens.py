"""The token engine: parsing, every core token, defaults, escaping, unknown tokens, registry tokens."""

from __future__ import annotations

import pytest
import time_machine

from liaison.contacts.models import Contact
from liaison.core.contributions import EmailToken, TokenResult
from liaison.core.errors import ValidationFailed
from liaison.core.registry import registry
from liaison.emails import services
from liaison.emails.html_text import html_to_text
from liaison.emails.models import Email, Send
from liaison.emails.rendering import Renderer
from liaison.emails.tokens import TokenFailure, TokenUse, parse
from tests.factories import CompanyFactory, ContactFactory, EmailFactory, FieldFactory
from tests.testapp import emails as example

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def render(html: str, contact: Contact, *, subject: str = "s", mode: str = "preview", send=None, text: str = ""):
    email = Email(name="t", subject=subject, html=html, text=text)
    return Renderer(email, [contact], mode=mode).render(contact, send)


def test_parse_names_params_defaults_and_leaves_css_alone():
    parts = parse("a {contactfield=first_name|Dear friend} b {date=Y-m-d} {unsubscribe_url} p{margin:0} { x }")
    uses = [p for p in parts if isinstance(p, TokenUse)]
    assert [(u.name, u.param, u.default) for u in uses] == [
        ("contactfield", "first_name", "Dear friend"), ("date", "Y-m-d", None), ("unsubscribe_url", None, None)]
    assert "".join(p if isinstance(p, str) else p.source for p in parts).endswith("p{margin:0} { x }")


def test_contactfield_standard_custom_company_and_formats():
    FieldFactory(alias="birthday", label="Birthday", type="date")
    FieldFactory(alias="vip", label="VIP", type="boolean")
    FieldFactory(alias="topics", label="Topics", type="multiselect", choices=[{"value": "a"}, {"value": "b"}])
    contact = ContactFactory(first_name="Ann", last_name="Lee", city="Lyon", points=12,
                             company=CompanyFactory(name="Acme"),
                             custom={"birthday": "1990-03-05", "vip": True, "topics": ["a", "b"]})
    out = render("{contactfield=first_name} {contactfield=last_name} {contactfield=company} {contactfield=city} "
                 "{contactfield=points} {contactfield=birthday} {contactfield=vip} {contactfield=topics} "
                 "{contactfield=custom.vip}", contact)
    assert out.html == "Ann Lee Acme Lyon 12 March 5, 1990 Yes a, b Yes"


def test_defaults_apply_to_empty_values_only():
    contact = ContactFactory(first_name="")
    assert render("Hi {contactfield=first_name|there}!", contact).html == "Hi there!"
    contact.first_name = "Bo"
    assert render("Hi {contactfield=first_name|there}!", contact).html == "Hi Bo!"


def test_values_are_escaped_in_html_but_not_in_subject_or_text():
    contact = ContactFactory(first_name='<script>alert("x")</script> & Co')
    out = render("<p>{contactfield=first_name}</p>", contact, subject="For {contactfield=first_name}")
    assert out.html == "<p>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co</p>"
    assert out.subject == 'For <script>alert("x")</script> & Co'
    assert out.text.strip() == '<script>alert("x")</script> & Co'


def test_subject_never_carries_line_breaks():
    contact = ContactFactory(first_name="Ann\r\nBcc: victim@example.com")
    assert "\n" not in render("x", contact, subject="Hi {contactfield=first_name}").subject


def test_date_token_default_and_format():
    with time_machine.travel("2025-06-07 10:00:00Z", tick=False):
        out = render("{date} / {date=Y-m-d}", ContactFactory())
    assert out.html == "June 7, 2025 / 2025-06-07"


def test_unsubscribe_and_webview_urls_are_the_sends_own_and_never_tracked():
    contact = ContactFactory()
    email = EmailFactory(html='<a href="{unsubscribe_url}">Stop</a> <a href="{webview_url}">View</a> '
                              '<a href="https://example.com/a">A</a>')
    send = Send.objects.create(email=email, contact=contact, to_email=contact.email)
    out = Renderer(email, [contact], mode="send").render(contact, send)
    assert f'href="http://testserver/u/{send.token}/"' in out.html
    assert f'href="http://testserver/v/{send.token}/"' in out.html
    assert f'href="http://testserver/t/c/{send.token}/0/"' in out.html
    assert out.links == ["https://example.com/a"]


def test_preview_links_point_to_the_preview_page():
    out = render('<a href="{unsubscribe_url}">Stop</a>', ContactFactory())
    assert 'href="http://testserver/u/preview/"' in out.html


def test_click_tracking_skips_mailto_anchors_relative_and_marked_links_and_reuses_indexes():
    contact = ContactFactory()
    email = EmailFactory(html='<a href="mailto:x@example.com">m</a><a href="#top">t</a><a href="/rel">r</a>'
                              '<a data-personal href="https://join.example.com/me">j</a>'
                              "<a class='b' href='https://example.com/x?a=1&amp;b=2'>x</a>"
                              '<a href="https://example.com/x?a=1&b=2">again</a><a href=https://example.com/y>y</a>')
    send = Send.objects.create(email=email, contact=contact, to_email=contact.email)
    out = Renderer(email, [contact], mode="send").render(contact, send)
    assert out.links == ["https://example.com/x?a=1&b=2", "https://example.com/y"]
    for kept in ('href="mailto:x@example.com"', 'href="#top"', 'href="/rel"', 'href="https://join.example.com/me"'):
        assert kept in out.html
    assert out.html.count(f"/t/c/{send.token}/0/") == 2 and f"/t/c/{send.token}/1/" in out.html


def test_an_empty_href_is_never_sent():
    contact = ContactFactory(custom={})
    out = render('<a href="{contactfield=city}">Our office</a>', contact)
    assert "href" not in out.html and "Our office" in out.html
    assert out.notes == ["A link had no address; it was sent as plain text."]


def test_text_part_is_generated_from_html_with_links_and_tracking():
    contact = ContactFactory(first_name="Ann")
    email = EmailFactory(html="<h1>Hi {contactfield=first_name}</h1><p>See <a href='https://example.com/n'>news</a>."
                              "</p><ul><li>one</li><li>two</li></ul>", text="")
    send = Send.objects.create(email=email, contact=contact, to_email=contact.email)
    out = Renderer(email, [contact], mode="send").render(contact, send)
    assert out.text == f"Hi Ann\n\nSee news (http://testserver/t/c/{send.token}/0/).\n\n- one\n- two\n"


def test_a_written_text_part_is_used_with_its_tokens():
    out = render("<p>x</p>", ContactFactory(first_name="Ann"), text="Plain for {contactfield=first_name}")
    assert out.text == "Plain for Ann"


def test_html_to_text_skips_head_and_styles():
    text = html_to_text("<html><head><title>T</title><style>p{color:red}</style></head>"
                        "<body><p>A<br>B</p><img alt='Logo'><a href='mailto:a@b.c'>write</a></body></html>")
    assert text == "A\nB\n\nLogowrite (a@b.c)\n"


def test_unknown_tokens_are_refused_when_saving_with_their_names(marketer):
    with pytest.raises(ValidationFailed) as exc:
        services.save_email({"name": "n", "subject": "Hi {first_name}", "html": "<p>{contactfield=nope} {bogus=1}"
                             " {unsubscribe_url=x} {contactfield}</p>"}, user=marketer)
    errors = exc.value.errors
    assert errors["subject"] == ["{first_name} is not a known token."]
    assert errors["html"] == [
        "{contactfield=nope}: there is no contact field “nope” (use a field alias, e.g. first_name).",
        "{bogus=1} is not a known token.",
        "{unsubscribe_url=x}: {unsubscribe_url} takes no value after “=”.",
        "{contactfield} needs a value: write {contactfield=ALIAS}.",
    ]
    assert not Email.objects.exists()


def test_unknown_tokens_are_never_sent_raw():
    email = EmailFactory(html="<p>{gone_token}</p>")  # saved before its integration was removed
    contact = ContactFactory()
    with pytest.raises(TokenFailure, match=r"\{gone_token\}"):
        Renderer(email, [contact], mode="send")


def test_registry_token_with_parameter_and_personal_link(django_assert_max_num_queries):
    from liaison.integrations.models import Integration
    from tests.testapp.models import ExamplePerson

    integration = Integration.objects.create(spec_key="example", name="Example")
    people = [ContactFactory() for _ in range(5)]
    for n, contact in enumerate(people[:4]):
        ExamplePerson.objects.create(integration=integration, remote_id=f"R{n}", contact=contact,
                                     email=contact.email, remote_updated_at="x")
    email = EmailFactory(subject="Join us", html="<p>{example_join=spring}</p><p>{example_join=autumn}</p>"
                              '<p><a href="https://example.com/agenda">Agenda</a></p>')
    sends = [Send.objects.create(email=email, contact=c, to_email=c.email) for c in people]
    example.PREFETCH_CALLS.clear()
    with django_assert_max_num_queries(1):  # one query for the whole batch
        renderer = Renderer(email, people, mode="send")
    assert example.PREFETCH_CALLS == [{"spring", "autumn"}]
    with django_assert_max_num_queries(0):
        outs = [renderer.render(c, s) for c, s in zip(people, sends, strict=True)]
    for n, out in enumerate(outs[:4]):
        assert f'href="https://crm.example.test/join/spring/R{n}"' in out.html  # personal: never rewritten
        assert f"Join the Spring webinar: https://crm.example.test/join/spring/R{n}" in out.text
        assert out.links == ["https://example.com/agenda"]
        assert "background:#4e5e9e" in out.html  # inline style: clients drop style sheets
    assert outs[4].skip_reason == f"{{example_join=spring}}: {people[4].email} is not registered in Example CRM"


def test_token_fallback_default_sends_with_a_note_and_context_parameter():
    contact = ContactFactory()
    out = render("{example_join|See you soon}", contact, mode="send")
    assert out.html == "See you soon" and not out.skip_reason
    assert "no event" in out.notes[0] and "(the default was used)" in out.notes[0]


def test_registry_token_check_runs_at_save():
    with pytest.raises(ValidationFailed) as exc:
        services.save_email({"name": "n", "subject": "s", "html": "{example_join=winter}"})
    assert exc.value.errors == {"html": ["{example_join=winter}: Example CRM has no event “winter”."]}


def test_a_failing_token_skips_the_send_instead_of_sending_raw():
    def boom(ctx, param):
        raise RuntimeError("provider down")

    with registry.override(EmailToken(key="boom", label="Boom", render=boom)):
        out = render("<p>{boom}</p>", ContactFactory(), mode="send")
    assert out.skip_reason == "{boom}: The token {boom} failed: provider down"


def test_token_keys_are_what_users_type():
    with pytest.raises(ValueError, match="lower-case letters"):
        with registry.override(EmailToken(key="goto.webinar_link", label="x", render=lambda c, p: TokenResult())):
            pass
