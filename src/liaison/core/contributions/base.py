from __future__ import annotations

import re
from typing import ClassVar

KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$")


class Contribution:
    """Base of every registry contribution.

    ``key`` is dotted and stable (``goto.webinar.registered``): it is stored in users'
    segments, forms and campaigns, so renaming one is a data migration.
    """

    kind: ClassVar[str] = ""
    # Declared, not defaulted: dataclass contributions would take a base default as theirs.
    key: str
    label: str

    def validate(self) -> None:
        if not self.kind:
            raise TypeError(f"{type(self).__name__} does not declare its registry kind")
        if not KEY_PATTERN.match(getattr(self, "key", "") or ""):
            raise ValueError(f"{type(self).__name__} key {self.key!r} must be dotted lower-case words")
        if not getattr(self, "label", ""):
            raise ValueError(f"{type(self).__name__} {self.key!r} needs a label")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {getattr(self, 'key', '?')}>"
