"""The token engine: parse ``{name}``, ``{name=param}``, ``{name|default}``, ``{name=param|default}``.

Token names are the keys of ``EmailToken`` contributions (core tokens are registered by
this app, others by integrations). A template is parsed once into literal text and
token uses; rendering asks each token once per contact and substitutes its value:
escaped for the HTML part, plain for the subject and the text part. Defaults are the
author's own content, inserted as written.

Anything that looks like a token but names no registered token is refused when the
e-mail is saved, and never sent raw (a send meeting one fails).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass

from liaison.core.contributions import EmailToken, TokenContext, TokenResult
from liaison.core.registry import registry

logger = logging.getLogger(__name__)

# The name, then "=param" (no braces or pipe), then "|default" (no braces).
TOKEN = re.compile(r"\{([a-z][a-z0-9_]*)(?:=([^{}|]*))?(?:\|([^{}]*))?\}")
FIELDS = ("subject", "html", "text")


@dataclass(frozen=True)
class TokenUse:
    name: str
    param: str | None
    default: str | None
    source: str
    field: str = ""

    @property
    def call(self) -> tuple[str, str | None]:
        """What the token is asked for (the default is applied by the engine)."""
        return self.name, self.param


def parse(source: str, field: str = "") -> list[str | TokenUse]:
    """Literal text and token uses, in order."""
    parts: list[str | TokenUse] = []
    position = 0
    for match in TOKEN.finditer(source or ""):
        if match.start() > position:
            parts.append(source[position:match.start()])
        name, param, default = match.groups()
        parts.append(TokenUse(name, None if param is None else param.strip(), default, match.group(0), field))
        position = match.end()
    if position < len(source or ""):
        parts.append(source[position:])
    return parts


def uses(source: str, field: str = "") -> list[TokenUse]:
    return [part for part in parse(source, field) if isinstance(part, TokenUse)]


def uses_in_email(email) -> list[TokenUse]:
    return [use for name in FIELDS for use in uses(getattr(email, name, "") or "", name)]


def available_tokens() -> list[EmailToken]:
    return sorted(registry.all(EmailToken), key=lambda t: (t.group != "Liaison", t.group, t.label))


def use_problems(use: TokenUse, token: EmailToken | None) -> list[str]:
    """What is wrong with one use of a token, regardless of the e-mail."""
    if token is None:
        return [f"{use.source} is not a known token."]
    if use.param is None and token.param == "required":
        return [f"{use.source} needs a value: write {token.syntax()}."]
    if use.param is not None and token.param == "none":
        return [f"{use.source}: {{{token.key}}} takes no value after “=”."]
    if use.param == "" and token.param != "none":
        return [f"{use.source}: write a value after “=” ({token.syntax()})."]
    return []


def check_tokens(email) -> dict[str, list[str]]:
    """Problems with the tokens of an e-mail, per field: unknown tokens, bad parameters,
    and each token's own ``check`` (e.g. an unknown contact field)."""
    errors: dict[str, list[str]] = {}
    seen: set[tuple[str, str]] = set()
    for use in uses_in_email(email):
        if (use.field, use.source) in seen:
            continue
        seen.add((use.field, use.source))
        token = registry.find(EmailToken, use.name)
        problems = use_problems(use, token)
        if not problems and token is not None and token.check is not None:
            problems = list(token.check(email, use.param) or [])
        for problem in problems:
            errors.setdefault(use.field, []).append(problem)
    return errors


class TokenFailure(Exception):
    """Raised when rendering must not go on (unknown token at send time)."""


@dataclass
class TokenValues:
    """The rendered tokens of one contact: by source, for each part."""

    html: dict[str, str]
    text: dict[str, str]
    personal_urls: set[str]
    notes: list[str]
    skip_reason: str = ""


class TokenRenderer:
    """Renders the tokens of one set of templates for many contacts (one batch)."""

    def __init__(self, email, sources: Iterable[str], contacts: list, *, mode: str, base_url: str):
        self.email = email
        self.mode = mode
        self.base_url = base_url
        calls: dict[tuple[str, str | None], TokenUse] = {}
        self.uses: dict[str, TokenUse] = {}
        for source in sources:
            for use in uses(source):
                self.uses.setdefault(use.source, use)
                calls.setdefault(use.call, use)
        self.tokens: dict[str, EmailToken] = {}
        unknown = []
        for name, _ in calls:
            token = registry.find(EmailToken, name)
            if token is None:
                unknown.append("{" + name + "}")
            else:
                self.tokens[name] = token
        if unknown:
            raise TokenFailure(f"Unknown token(s) {', '.join(sorted(set(unknown)))}: the e-mail was not sent "
                               "(was an integration removed?).")
        self.calls = list(calls)
        self.prefetched: dict[str, object] = {}
        for name, token in self.tokens.items():
            if token.prefetch is not None:
                params = {param for key, param in self.calls if key == name}
                self.prefetched[name] = token.prefetch(contacts, email, params)

    def _result(self, token: EmailToken, ctx: TokenContext, param: str | None) -> TokenResult:
        ctx.prefetched = self.prefetched.get(token.key)
        try:
            result = token.render(ctx, param)
        except Exception as exc:  # a broken token never sends its raw text
            logger.exception("e-mail token %s failed", token.key)
            return TokenResult.missing(f"The token {{{token.key}}} failed: {exc}")
        if not isinstance(result, TokenResult):
            result = TokenResult.value(result)
        return result

    def render(self, contact, *, send=None, context=None) -> TokenValues:
        ctx = TokenContext(contact=contact, email=self.email, send=send, context=context or {}, mode=self.mode,
                           base_url=self.base_url)
        results = {call: self._result(self.tokens[call[0]], ctx, call[1]) for call in self.calls}
        values = TokenValues(html={}, text={}, personal_urls=set(), notes=[])
        for source, use in self.uses.items():
            result = results[use.call]
            if result.personal and result.url:
                values.personal_urls.add(result.url)
            if result.empty and use.default is not None:
                values.html[source] = values.text[source] = use.default
                if result.problem:
                    values.notes.append(f"{use.source}: {result.problem} (the default was used)")
                continue
            if result.empty and result.problem:
                if not values.skip_reason:
                    values.skip_reason = f"{use.source}: {result.problem}"
                values.html[source] = values.text[source] = ""
                continue
            if result.problem:
                values.notes.append(f"{use.source}: {result.problem}")
            values.html[source] = result.as_html()
            values.text[source] = result.text
        return values


def substitute(parts: list[str | TokenUse], values: dict[str, str]) -> str:
    return "".join(part if isinstance(part, str) else values.get(part.source, "") for part in parts)
