"""Text bound for a terminal, made harmless: no escape sequences, no invisible tricks.

Messages are written by users and models, and a thread may be imported from anyone. Printed raw,
an escape sequence in one could retitle the window, clear the screen, plant an OSC-8 link, or use
carriage returns and backspaces to hide what a line says. Every control character (C0, C1, DEL) and
the bidirectional overrides are shown as visible escapes instead; newlines and tabs are kept where
the text is multi-line. JSON output needs none of this (its encoder escapes control characters).
"""

from __future__ import annotations

import re

# C0 controls but tab and newline, DEL, C1 controls, and the bidi embedding/override/isolate marks.
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
UNSAFE_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe(text: str) -> str:
    """`text` with every control character but newline and tab escaped (`\\x1b`)."""
    return UNSAFE.sub(_escape, text)


def safe_line(text: str, width: int | None = None) -> str:
    """`text` on one line (newlines and tabs become spaces), escaped, then cut to `width`
    characters; cutting after escaping can only ever split an escape's visible text."""
    line = UNSAFE_ONE_LINE.sub(_escape, re.sub(r"[\n\t]+", " ", text))
    if width is not None and len(line) > width:
        line = line[: width - 1] + "…"
    return line
