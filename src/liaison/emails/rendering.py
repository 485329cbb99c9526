"""From an e-mail and a contact to the message: tokens, click tracking, open pixel, text part.

``Renderer`` works on a batch: templates are parsed, the text part generated and token
data prefetched once, then ``render(contact, send)`` is cheap per contact.

Click tracking rewrites ``<a href>`` to ``/t/c/<send token>/<n>/``, where ``n`` indexes
the send's own ``links`` list: a tracked link can only ever lead to the URL stored on
that send. Never rewritten: links produced by personal tokens (join links, the
unsubscribe and web-view links), anchors marked ``data-personal``, and anything that is
not an absolute http(s) URL (mailto:, tel:, #anchors, relative links).
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings

from liaison.emails.html_text import html_to_text
from liaison.emails.tokens import TokenRenderer, TokenUse, parse, substitute

A_TAG = re.compile(r"<a\b[^>]*>", re.IGNORECASE)
HREF = re.compile(r"""(\shref\s*=\s*)(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""", re.IGNORECASE)
PERSONAL_MARK = re.compile(r"\sdata-personal\b", re.IGNORECASE)
TEXT_URL = re.compile(r"https?://[^\s()<>\"']+")
BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)
HEADER_BREAKS = re.compile(r"[\r\n]+")


def base_url() -> str:
    return settings.LIAISON_BASE_URL.rstrip("/")


def click_url(token: str, index: int) -> str:
    return f"{base_url()}/t/c/{token}/{index}/"


def pixel_url(token: str) -> str:
    return f"{base_url()}/t/o/{token}.gif"


def trackable(url: str) -> bool:
    return url.lower().startswith(("http://", "https://"))


def rewrite_links(html: str, track: Callable[[str], str | None], problems: list[str] | None = None) -> str:
    """Replace each ``<a href>`` whose URL ``track(url)`` maps to a new URL.

    An anchor whose href is empty (e.g. a token rendered nothing) loses the attribute: a
    link with no address is never sent.
    """

    def on_tag(match: re.Match) -> str:
        tag = match.group(0)
        if PERSONAL_MARK.search(tag):
            return tag
        found = HREF.search(tag)
        if found is None:
            return tag
        raw = next(g for g in found.groups()[1:] if g is not None)
        url = html_lib.unescape(raw).strip()
        if not url:
            if problems is not None:
                problems.append("A link had no address; it was sent as plain text.")
            return tag[:found.start()] + tag[found.end():]
        replacement = track(url)
        if replacement is None:
            return tag
        return f'{tag[:found.start()]}{found.group(1)}"{html_lib.escape(replacement)}"{tag[found.end():]}'

    return A_TAG.sub(on_tag, html)


def add_pixel(html: str, token: str) -> str:
    pixel = (f'<img src="{pixel_url(token)}" alt="" width="1" height="1" '
             'style="display:block;width:1px;height:1px;border:0">')
    ends = list(BODY_END.finditer(html))
    if ends:
        cut = ends[-1].start()
        return html[:cut] + pixel + html[cut:]
    return html + pixel


def _track_text_url(found: str, index: dict[str, int], token: str) -> str:
    url = found.rstrip(".,;:!?")
    if url not in index:
        return found
    return click_url(token, index[url]) + found[len(url):]


@dataclass
class RenderedMessage:
    subject: str
    html: str
    text: str
    links: list[str] = field(default_factory=list)
    values: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    skip_reason: str = ""


class Renderer:
    """Renders one version of an e-mail (subject, html, text) for the contacts of a batch.

    ``mode`` is "send" (tracking on, needs a send per contact), "test" or "preview"
    (links untouched, unsubscribe and web-view links point to a harmless preview page).
    """

    def __init__(self, email, contacts: list, *, mode: str = "send", subject: str | None = None,
                 html: str | None = None, text: str | None = None):
        self.email = email
        self.mode = mode
        self.subject_source = email.subject if subject is None else subject
        self.html_source = email.html if html is None else html
        self.text_source = email.text if text is None else text
        self.text_template = self.text_source.strip() or html_to_text(self.html_source)
        self.subject_parts = parse(self.subject_source)
        self.html_parts = parse(self.html_source)
        self.text_parts = parse(self.text_template)
        self.tokens = TokenRenderer(email, [self.subject_source, self.html_source, self.text_template], contacts,
                                    mode=mode, base_url=base_url())

    def render(self, contact, send=None, context=None) -> RenderedMessage:
        values = self.tokens.render(contact, send=send, context=context if context is not None else
                                    getattr(send, "context", None))
        subject = HEADER_BREAKS.sub(" ", substitute(self.subject_parts, values.text)).strip()[:255]
        html = substitute(self.html_parts, values.html)
        text = substitute(self.text_parts, values.text)
        notes = list(values.notes)
        links: list[str] = []
        if self.mode == "send" and send is not None and not values.skip_reason:
            index: dict[str, int] = {}

            def track(url: str) -> str | None:
                if not trackable(url) or url in values.personal_urls:
                    return None
                if url not in index:
                    index[url] = len(links)
                    links.append(url)
                return click_url(send.token, index[url])

            html = add_pixel(rewrite_links(html, track, notes), send.token)
            if links:
                text = TEXT_URL.sub(lambda m: _track_text_url(m.group(0), index, send.token), text)
        else:
            html = rewrite_links(html, lambda url: None, notes)
        return RenderedMessage(subject=subject, html=html, text=text, links=links,
                               values={source: values.html[source] for source in self.tokens.uses},
                               notes=notes, skip_reason=values.skip_reason)


def render_stored(send, *, tracked: bool = True) -> str:
    """The HTML of a sent message again, from its version and stored token values (web view).

    ``tracked=False`` leaves the links as they were written (for staff, whose clicks must
    not count as the contact's).
    """
    content = send.content
    parts: list[str | TokenUse] = parse(content.html if content else send.email.html)
    html = substitute(parts, send.values or {})
    if not tracked:
        return html
    index = {url: n for n, url in enumerate(send.links or [])}
    return rewrite_links(html, lambda url: click_url(send.token, index[url]) if url in index else None)
