"""Thread ids that cannot be confused: normalised (NFKC), visible, and in one script.

`ａｌｉｃｅ` (full-width) becomes `alice`; `alice` with a zero-width space, or with a Cyrillic `а`,
is refused rather than made a second "alice". Allowed: letters and digits of one script, and
`. _ - : @`; at least one letter or digit, and no `-` first (`..` reads as a path, `-x` as an
option).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

MAX_THREAD_ID = 128
PUNCTUATION = frozenset(".-_:@")
SCRIPT_GROUPS = {"HIRAGANA": "CJK", "KATAKANA": "CJK", "HANGUL": "CJK", "IDEOGRAPHIC": "CJK"}
SHOWN = 40


def shown(thread_id: str) -> str:
    """A thread id as an error message quotes it: escaped (anything not plain ASCII shows as
    `\\u200b`), and cut to a readable length, counted after escaping."""
    pieces: list[str] = []
    width = 0
    for char in thread_id:
        piece = repr(char)[1:-1].encode("ascii", "backslashreplace").decode("ascii")
        if char == "'":
            piece = "\\'"
        if width + len(piece) > SHOWN:
            return "'" + "".join(pieces) + "'…"
        pieces.append(piece)
        width += len(piece)
    return "'" + "".join(pieces) + "'"


def validate_thread_id(thread_id: str, max_length: int = MAX_THREAD_ID) -> str:
    """The NFKC form of `thread_id`; ValueError (one line, id shown escaped) if it is unusable:
    control, invisible and mixed-script ids are refused."""
    if not isinstance(thread_id, str):
        raise ValueError("a thread id must be text")
    normal = unicodedata.normalize("NFKC", thread_id)
    problem = _problem(normal, max_length)
    if problem:
        raise ValueError(f"invalid thread id {shown(thread_id)}: {problem}")
    return normal


def _problem(thread_id: str, max_length: int) -> str:
    if not thread_id:
        return "it is empty"
    if len(thread_id) > max_length:
        return f"longer than {max_length} characters"
    if thread_id.startswith("-"):
        return "it may not start with '-' (a command line would read it as an option)"
    if all(char in PUNCTUATION for char in thread_id):
        return "it needs a letter or a digit ('..' and the like read as paths)"
    scripts: set[str] = set()
    for char in thread_id:
        if char in PUNCTUATION:
            continue
        category = unicodedata.category(char)
        if category[0] not in "LN" or category == "Nl":
            return "use letters, digits and . _ - : @ only (no spaces, symbols or invisible characters)"
        if category[0] == "L":
            scripts.add(_script(char))
    if len(scripts) > 1:
        return f"it mixes scripts ({', '.join(sorted(scripts)).lower()}): lookalike ids are refused"
    return ""


def _script(char: str) -> str:
    name = unicodedata.name(char, "UNKNOWN")
    first = name.split(" ", 1)[0]
    if first == "CJK" or first in SCRIPT_GROUPS:
        return "CJK"
    return first


def thread_of(config: Mapping[str, Any]) -> str | None:
    """The thread a run's config names (None: a run without a thread)."""
    thread_id = (config.get("configurable") or {}).get("thread_id")
    return None if thread_id is None else str(thread_id)
