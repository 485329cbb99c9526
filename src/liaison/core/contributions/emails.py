"""E-mail contracts: tokens (``{name}``, ``{name=param}``, ``{name|default}``) and save-time validators.

The token engine lives in ``liaison.emails``; apps and integrations only declare what
they add. A token is rendered once per contact and per mode ("send", "test",
"preview"), from a :class:`TokenContext`, and answers a :class:`TokenResult`.

Rules every token follows (the engine enforces what it can):

* a value is plain text (``TokenResult.text``) that the engine escapes for HTML, or ready
  HTML (``TokenResult.html``) the token escaped itself;
* a link specific to the contact (a provider join link) is ``personal=True``: click
  tracking never rewrites it, so it can never be shared between contacts;
* a token that has nothing to render says why in ``problem``. Without any output the
  send is skipped with that reason (never sent with an empty link); with a fallback
  output the message goes out and the problem is noted on the send.
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from liaison.core.contributions.base import Contribution

# The apps' models, named for readability only: core never imports an app.
Contact = Any
Email = Any
Send = Any


TOKEN_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
RenderMode = Literal["send", "test", "preview"]
ParamPolicy = Literal["none", "optional", "required"]

# Inline styles: e-mail clients drop external style sheets (Mautic's join button
# linked one, so it often arrived unstyled).
BUTTON_STYLE = ("display:inline-block;padding:12px 18px;border-radius:3px;background:#4e5e9e;color:#ffffff;"
                "font-size:16px;font-weight:bold;text-decoration:none")


@dataclass
class TokenContext:
    """What a token sees when it renders for one contact.

    ``send`` is None in previews and test messages; ``context`` is the send's context
    (e.g. ``{"campaign_id": 3, "webinar": "8123…"}`` for the campaign step that sent it):
    a token about "the" webinar should read it there before guessing.
    ``prefetched`` is what the token's ``prefetch`` returned for the batch (or None).
    """

    contact: Contact
    email: Email
    send: Send | None = None
    context: Mapping[str, Any] = field(default_factory=dict)
    mode: RenderMode = "send"
    base_url: str = ""
    prefetched: Any = None

    @property
    def is_preview(self) -> bool:
        return self.mode != "send"


@dataclass(frozen=True)
class TokenResult:
    """The output of one token for one contact.

    ``text``: the plain value (used in subjects and text parts, and, escaped, in HTML).
    ``html``: ready HTML for the HTML part (None: ``text`` escaped). ``url``: the link the
    token produced, if any. ``personal``: that link belongs to this contact only and is
    never rewritten by click tracking. ``problem``: why nothing (or only a fallback) was
    rendered, e.g. "No registration to an upcoming webinar".
    """

    text: str = ""
    html: str | None = None
    url: str = ""
    personal: bool = False
    problem: str = ""

    @property
    def empty(self) -> bool:
        return not self.text and not self.html

    def as_html(self) -> str:
        return self.html if self.html is not None else html_lib.escape(self.text)

    @classmethod
    def value(cls, text: Any) -> TokenResult:
        return cls(text="" if text is None else str(text))

    @classmethod
    def link(cls, url: str, *, personal: bool = False) -> TokenResult:
        """A bare URL, meant for ``href="{token}"``."""
        return cls(text=url, url=url, personal=personal)

    @classmethod
    def button(cls, url: str, label: str, *, personal: bool = False) -> TokenResult:
        """A styled link (inline CSS); the text part reads "label: url"."""
        markup = (f'<a href="{html_lib.escape(url)}" target="_blank" rel="noopener" class="liaison-button" '
                  f'style="{BUTTON_STYLE}">{html_lib.escape(label)}</a>')
        return cls(text=f"{label}: {url}", html=markup, url=url, personal=personal)

    @classmethod
    def missing(cls, problem: str) -> TokenResult:
        """Nothing to render: the send is skipped with this reason (previews show it)."""
        return cls(problem=problem)


@dataclass(eq=False, repr=False)
class EmailToken(Contribution):
    """A token e-mails can contain: ``{key}``, ``{key=param}``, with an optional ``|default``.

    ``key`` is the token's name as written between braces (lower-case letters, digits,
    underscores; no dots: users type it). ``param`` says whether ``=param`` is refused,
    optional or required. ``render(ctx, param)`` returns a :class:`TokenResult`.

    Optional hooks:

    * ``check(email, param) -> list[str]``: problems with one use of the token, reported
      when the e-mail is saved (e.g. an unknown webinar key), next to the field using it;
    * ``choices() -> list[(param, label)]``: parameter values the editor offers;
    * ``prefetch(contacts, email, params) -> Any``: load what ``render`` needs for a
      whole batch in a few queries (``params`` is the set of parameters used); the result
      reaches ``render`` as ``ctx.prefetched``. In previews the contact may be an unsaved
      sample (``pk`` None) and the e-mail unsaved too.
    """

    kind: ClassVar[str] = "email_token"
    key: str
    label: str
    render: Callable[[TokenContext, str | None], TokenResult]
    param: ParamPolicy = "none"
    param_label: str = ""
    description: str = ""
    group: str = "Liaison"
    # True when the token renders a URL meant for an href (the editor inserts it as a link).
    is_link: bool = False
    check: Callable[[Email, str | None], list[str]] | None = None
    choices: Callable[[], list[tuple[str, str]]] | None = None
    prefetch: Callable[[list[Contact], Email, set[str | None]], Any] | None = None

    def validate(self) -> None:
        super().validate()
        if not TOKEN_NAME.match(self.key):
            raise ValueError(f"E-mail token key {self.key!r} must be lower-case letters, digits and underscores "
                             "(it is what users type between braces)")
        if self.param not in ("none", "optional", "required"):
            raise ValueError(f"E-mail token {self.key!r}: param must be none, optional or required")
        if not callable(self.render):
            raise TypeError(f"E-mail token {self.key!r} needs a render function")

    def syntax(self) -> str:
        if self.param == "none":
            return "{" + self.key + "}"
        placeholder = (self.param_label or "value").upper().replace(" ", "_")
        if self.param == "required":
            return "{" + self.key + "=" + placeholder + "}"
        return "{" + self.key + "} or {" + self.key + "=" + placeholder + "}"


@dataclass(eq=False, repr=False)
class EmailValidator(Contribution):
    """A rule checked whenever an e-mail is saved (UI and API); problems refuse the save.

    ``check(email)`` runs inside the save's transaction, after the e-mail and its
    relations (e.g. segments) are written, so it sees exactly what would be stored; any
    problem rolls everything back. It returns either messages (shown next to ``field``)
    or ``{field: [messages]}``. Use ``email.token_uses()`` to see the tokens it contains and
    ``email.audience_targets()`` (``[(audience key, [values])]``, e.g.
    ``[("segments.segment", ["3"])]``) to see who a segment e-mail goes to; messages about
    the audiences go under ``"audiences"``. Validators run again when a broadcast starts.
    """

    kind: ClassVar[str] = "email_validator"
    key: str
    label: str
    check: Callable[[Email], Mapping[str, Iterable[str]] | Iterable[str]]
    field: str = "__all__"

    def problems(self, email: Email) -> dict[str, list[str]]:
        found = self.check(email) or []
        if isinstance(found, Mapping):
            return {name: list(messages) for name, messages in found.items() if messages}
        messages = list(found)
        return {self.field: messages} if messages else {}
