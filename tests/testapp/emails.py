"""Test-only e-mail contributions: a parameterized token with a personal link, and a validator.

``{example_join=EVENT}`` is shaped like GoTo's ``{webinar_button=KEY}``: a join button whose
URL belongs to one contact (never click-tracked), loaded for the whole batch in one query
(``prefetch``), and nothing at all (the send is skipped, with the reason) for a contact
the Example CRM does not know.
"""

from __future__ import annotations

from liaison.core.contributions import EmailToken, EmailValidator, TokenContext, TokenResult

EVENTS = {"spring": "Spring webinar", "autumn": "Autumn webinar"}
PREFETCH_CALLS: list[set] = []


def prefetch(contacts, email, params):
    from tests.testapp.models import ExamplePerson

    PREFETCH_CALLS.append(set(params))
    ids = [c.pk for c in contacts if c.pk]
    return dict(ExamplePerson.objects.filter(contact_id__in=ids).values_list("contact_id", "remote_id"))


def render(ctx: TokenContext, param: str | None) -> TokenResult:
    event = param or ctx.context.get("example_event")
    if event is None:
        return TokenResult.missing("no event: give one ({example_join=spring}) or send it from a campaign step")
    if ctx.is_preview:
        return TokenResult.button(f"https://crm.example.test/join/{event}/preview", f"Join the {EVENTS[event]}",
                                  personal=True)
    remote_id = (ctx.prefetched or {}).get(ctx.contact.pk)
    if remote_id is None:
        return TokenResult.missing(f"{ctx.contact.email} is not registered in Example CRM")
    return TokenResult.button(f"https://crm.example.test/join/{event}/{remote_id}", f"Join the {EVENTS[event]}",
                              personal=True)


def check(email, param: str | None) -> list[str]:
    if param is not None and param not in EVENTS:
        return [f"{{example_join={param}}}: Example CRM has no event “{param}”."]
    return []


def no_shouting(email) -> dict[str, list[str]]:
    letters = [c for c in email.subject if c.isalpha()]
    if len(letters) > 3 and all(c.isupper() for c in letters):
        return {"subject": ["Example CRM refuses subjects in capitals."]}
    return {}


EXAMPLE_TOKEN = EmailToken(key="example_join", label="Example CRM join button", render=render, param="optional",
                           param_label="event", group="Example CRM", check=check, prefetch=prefetch,
                           choices=lambda: list(EVENTS.items()))
EXAMPLE_VALIDATOR = EmailValidator(key="example.no_shouting", label="No subjects in capitals", check=no_shouting)
