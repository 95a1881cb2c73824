"""What ``wsserver check`` says of the lines of a log: each line that is not as servers write it.

A channel log holds chat lines, ``System`` lines and annotation lines
(:mod:`wsserver.lines.annotation`); a private log holds ``FROM -> TO`` lines and
the tag lines of IRC clients' client-only tags.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

from ..errors import EscapeError
from .annotation import parse_annotation, parse_tag_line
from .logline import ParsedLine, is_unicode, parse_line

Checked = Iterable[tuple[int | str, bytes, bool]]
"""(where in the source: a line number or a stream entry ID, the line without newline, whether it had one)."""


def check_log(source: object, lines: Checked, private: bool) -> Iterator[str]:
    """Yield ``source:where: problem`` for each line of a channel (or private) log that is not as servers write it."""
    for number, raw, whole in lines:
        where = f"{source}:{number}"
        if not whole:
            yield f"{where}: last line has no newline (torn write)"
            continue
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            yield f"{where}: not valid UTF-8"
            continue
        try:
            parsed = parse_line(line)
        except EscapeError as exc:
            yield f"{where}: {exc}"
            continue
        tagged = False
        if parsed is None:
            annotation = parse_tag_line(line, True) if private else parse_annotation(line)
            if annotation is None:
                yield f"{where}: not in the log format [YYYY-MM-DD HH:mm:ss] HANDLE: TEXT"
                continue
            parsed = ParsedLine(annotation.stamp, annotation.handle, annotation.text)
            tagged = private
        if not is_unicode(parsed.text):
            yield f"{where}: the text holds a lone surrogate (not Unicode; the tools print it escaped)"
        try:
            datetime.strptime(parsed.stamp, "%Y-%m-%d %H:%M:%S")
        except ValueError:
            yield f"{where}: invalid timestamp {parsed.stamp}"
        if private and parsed.to is None and not tagged:
            yield f"{where}: a private log line needs FROM -> TO"
        if not private and parsed.to is not None:
            yield f"{where}: a private line in a channel log"
        if any(ord(char) < 0x20 or 0x7F <= ord(char) <= 0x9F for char in raw.decode("utf-8")):
            yield f"{where}: unescaped control character"
