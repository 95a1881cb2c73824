"""What a search looks for (:class:`Query`): text in the public lines of a channel log, and in edits.

Every store's :class:`~wsserver.store.base.Finder` scans with it, and the
lines it matches are what a search answers.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import EscapeError
from .annotation import EDIT, parse_annotation
from .logline import LINE_RE, escape, unescape

QUERY_CHARS = 200  # the longest text a search looks for


@dataclass(frozen=True)
class Query:
    """What to look for: ``text`` in the message (case-insensitive, as unescaped), from ``handle`` if given."""

    text: str
    handle: str | None = None

    @property
    def needle(self) -> bytes:
        """Return the text as the log stores it, lower-cased: what a lower-cased block must hold."""
        return escape(self.text).lower().encode("utf-8")

    def matches(self, line: str) -> bool:
        """Return whether a log line is a public line, or an edit, whose text holds the text (and is from the handle).

        An edit line matches by its new text: the caller shows it as the
        line it edited (:mod:`wsserver.annotations.found`).
        """
        match = LINE_RE.match(line)
        if match is not None and match.group(3) is None:
            handle, text = match.group(2), match.group(4)
        else:
            edit = parse_annotation(line) if match is None and " edited " in line else None
            if edit is None or edit.kind != EDIT:
                return False
            handle, text = edit.handle, edit.text
        if self.handle is not None and handle.lower() != self.handle.lower():
            return False
        try:
            text = unescape(text)
        except EscapeError:
            pass
        return self.text.lower() in text.lower()
