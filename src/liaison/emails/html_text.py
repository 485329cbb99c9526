"""The text part of an e-mail, generated from its HTML with the standard library's parser.

Links are kept as "text (url)" (or the bare URL when the text is the URL), images as
their alt text, lists as "- item", headings and paragraphs as blocks separated by a
blank line. Tokens (``{name=param}``) are plain text to the parser, so the text of a
template is generated once and its tokens rendered per contact.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

BLOCKS = {"p", "div", "section", "article", "header", "footer", "main", "aside", "blockquote", "form", "table",
          "tr", "ul", "ol", "dl", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "address", "center", "figure"}
HIDDEN = {"head", "style", "script", "title", "template", "noscript"}
NO_LINK_SCHEMES = ("#", "javascript:")


class _TextBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.hidden = 0
        self.pre = 0
        self.links: list[tuple[str, int]] = []  # (href, position in out where the link text starts)
        self.lists: list[list] = []  # ["ul"|"ol", counter]

    # Blocks become paragraph breaks ("\n\n"), <br> and cells line or column breaks.
    def _break(self, marker: str = "\n\n") -> None:
        self.out.append(f"\x00{marker}\x00")

    def handle_starttag(self, tag, attrs):
        if tag in HIDDEN:
            self.hidden += 1
            return
        if self.hidden:
            return
        attributes = dict(attrs)
        if tag in BLOCKS or tag == "li":
            self._break("\n" if tag in ("tr", "li") else "\n\n")
        if tag == "pre":
            self.pre += 1
        if tag in ("ul", "ol"):
            self.lists.append([tag, 0])
        elif tag == "li":
            if self.lists:
                self.lists[-1][1] += 1
                kind, count = self.lists[-1]
                self.out.append("  " * (len(self.lists) - 1) + (f"{count}. " if kind == "ol" else "- "))
            else:
                self.out.append("- ")
        elif tag == "br":
            self._break("\n")
        elif tag == "hr":
            self._break("\n\n")
            self.out.append("-" * 40)
            self._break("\n\n")
        elif tag in ("td", "th"):
            self.out.append(" ")
        elif tag == "img":
            alt = (attributes.get("alt") or "").strip()
            if alt:
                self.out.append(alt)
        elif tag == "a":
            self.links.append(((attributes.get("href") or "").strip(), len(self.out)))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag == "a":
            self.handle_endtag(tag)

    def handle_endtag(self, tag):
        if tag in HIDDEN:
            self.hidden = max(0, self.hidden - 1)
            return
        if self.hidden:
            return
        if tag == "a" and self.links:
            href, start = self.links.pop()
            label = " ".join("".join(p for p in self.out[start:] if not p.startswith("\x00")).split())
            target = href[len("mailto:"):].split("?")[0] if href.lower().startswith("mailto:") else href
            if href and not href.lower().startswith(NO_LINK_SCHEMES) and target != label:
                self.out.append(f" ({target})" if label else target)
        elif tag in ("ul", "ol") and self.lists:
            self.lists.pop()
            self._break("\n\n")
        elif tag == "pre":
            self.pre = max(0, self.pre - 1)
            self._break("\n\n")
        elif tag in BLOCKS or tag == "li":
            self._break("\n" if tag in ("tr", "li") else "\n\n")

    def handle_data(self, data):
        if self.hidden:
            return
        if self.pre:
            self.out.append(data.replace("\n", "\x00\n\x00"))
        else:
            self.out.append(re.sub(r"\s+", " ", data))

    def text(self) -> str:
        raw = "".join(self.out)
        lines: list[str] = []
        # Separators are "\x00<breaks>\x00"; collapse runs to the largest break.
        for chunk in re.split(r"((?:\x00\n+\x00\s*)+)", raw):
            if chunk.startswith("\x00"):
                breaks = max(len(b) for b in re.findall(r"\n+", chunk))
                lines.append("\n" * min(breaks, 2))
            else:
                lines.append(chunk)
        text = "".join(lines)
        text = "\n".join(line.strip() for line in text.split("\n"))
        return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def html_to_text(html: str) -> str:
    """A readable plain-text version of an HTML e-mail."""
    builder = _TextBuilder()
    builder.feed(html or "")
    builder.close()
    return builder.text()
