"""Untrusted text made harmless, as pure functions: terminal escaping, thread ids, secret redaction,
database locations, export documents and imported settings (issue 10, items 5, 7, 8, 10, 15, 16)."""

from __future__ import annotations

import codecs
import copy
import json

import pytest
from fakes import raw_controls

from memoria.errors import add_secret, describe_error, redact
from memoria.ids import validate_thread_id
from memoria.persistence.location import DatabaseLocationError, parse_location
from memoria.prompts import SYSTEM_PROMPT
from memoria.terminal import safe, safe_line
from memoria.threads import ExportFormatError, ThreadExport, decode_document, vet_settings

HOSTILE = (
    "title \x1b]0;pwned\x07 clear \x1b[2J link \x1b]8;;http://evil.example\x1b\\click\x1b]8;;\x1b\\"
    " cr\rOVER bs abc\x08\x08\x08xyz bidi \u202etxt.exe isolate \u2066x\u2069 c1 \x9b31m nul \x00"
)


# Item 15: terminal escapes


def test_every_control_sequence_is_shown_escaped_not_obeyed():
    for text in (safe(HOSTILE), safe_line(HOSTILE), safe_line(HOSTILE, 60)):
        assert raw_controls(text) == [], text
    shown = safe(HOSTILE)
    for visible in (
        "\\x1b]0;pwned\\x07",
        "\\x1b[2J",
        "\\x0dOVER",
        "\\x08\\x08",
        "\\u202e",
        "\\x9b",
    ):
        assert visible in shown
    assert safe("line one\n\tline two") == "line one\n\tline two"  # layout survives in `show`
    assert "\n" not in safe_line("a\nb\r\nc") and "\t" not in safe_line("a\tb")


def test_the_cut_of_a_long_line_never_leaves_a_link_or_title_open():
    for offset in range(40, 70):
        text = "x" * offset + "\x1b]8;;http://evil.example\x1b\\click here\x1b]8;;\x1b\\ tail"
        cut = safe_line(text, 60)
        assert len(cut) <= 60 and "\x1b" not in cut and "\x07" not in cut, offset


# Item 16: thread ids


def test_lookalike_thread_ids_are_one_id_or_refused():
    assert validate_thread_id("ａｌｉｃｅ") == "alice"  # full-width letters are the same id
    assert validate_thread_id("ﬁle") == "file"
    assert validate_thread_id("東京") == "東京" and validate_thread_id("русский") == "русский"
    assert validate_thread_id("a..b") == "a..b" and validate_thread_id("x-1") == "x-1"
    for bad, why in (
        ("ali\u200bce", "invisible"),
        ("alice\u2060", "invisible"),
        ("\u202ealice", "invisible"),
        ("al\x1b[2Jice", "invisible"),
        ("\u0430lice", "mixes scripts"),  # Cyrillic а, then Latin
        ("αβγ-abc", "mixes scripts"),
        ("..", "needs a letter or a digit"),
        ("--", "may not start with '-'"),
        ("-rf", "may not start with '-'"),
        ("@", "needs a letter or a digit"),
    ):
        with pytest.raises(ValueError, match=why) as refused:
            validate_thread_id(bad)
        message = str(refused.value)
        assert raw_controls(message) == [] and "\n" not in message
        assert message.isascii(), message  # the odd character is spelled out (\u200b, \u0430)


def test_a_refused_id_is_echoed_cut_to_a_readable_length():
    for bad in ("x" * 5000, "😀" * 500, "\u200b" * 500, "\x1b" * 500):
        with pytest.raises(ValueError) as refused:
            validate_thread_id(bad)
        assert len(str(refused.value)) < 200, str(refused.value)


# Item 7: secrets


def test_configured_secrets_are_redacted_in_every_spelling(monkeypatch):
    key = "gsk_live/SECRET+key=0123456789"
    monkeypatch.setenv("ACME_API_KEY", key)
    add_secret("db-pass-1234@x")
    text = (
        f"key {key}; url ?api_key=gsk_live%2FSECRET%2Bkey%3D0123456789; "
        "Authorization: Bearer sk-other-provider-token-9876; dsn postgresql://u:db-pass-1234%40x@h/d"
    )
    cleaned = redact(text)
    for leaked in (key, "gsk_live%2FSECRET", "sk-other-provider-token-9876", "db-pass-1234"):
        assert leaked not in cleaned
    assert cleaned.count("***") == 4


class ProviderError(Exception):
    """What provider SDKs raise: a status code, and the body they parsed."""

    def __init__(self, status: int, body: dict) -> None:
        super().__init__(f"Error code: {status} - {json.dumps(body)}")
        self.status_code, self.body = status, body


@pytest.mark.parametrize("status", [400, 401, 404, 413, 422, 500, 503])
def test_a_provider_error_echoing_the_key_is_one_redacted_line(monkeypatch, status):
    key = "gsk_echoed_back_0123456789"
    monkeypatch.setenv("GROQ_API_KEY", key)
    body = {"error": {"message": f"bad request (context exceeded), key={key}\nheaders: {key}"}}
    line = describe_error(ProviderError(status, body))
    assert key not in line and "\n" not in line
    assert "Error code" not in line  # the provider's message, not the SDK's dump of the body


# Items 8 and 17: database locations


@pytest.mark.parametrize(
    "raw, password, shown",
    [
        (
            "postgresql://memo@127.0.0.1:1/x?password=sekrit-q",
            "sekrit-q",
            "postgresql://memo@127.0.0.1:1/x",
        ),
        (
            "postgresql://memo:p%40ss%40sekrit@127.0.0.1:1/x",
            "p@ss@sekrit",
            "postgresql://memo@127.0.0.1:1/x",
        ),
        (
            "host=127.0.0.1 port=1 dbname=x password=sekrit-kv",
            "sekrit-kv",
            "postgresql://127.0.0.1:1/x",
        ),
        (
            "password='se krit' host=db.example dbname=x user=u",
            "se krit",
            "postgresql://u@db.example/x",
        ),
    ],
)
def test_postgres_passwords_never_reach_the_display(raw, password, shown):
    location = parse_location(raw)
    assert location.kind == "postgres" and location.target == raw
    assert location.display == shown
    # ...and the password is registered, so that a driver message quoting it is redacted too.
    assert redact(f"could not connect with {password}") == "could not connect with ***"


@pytest.mark.parametrize(
    "raw",
    [
        "postgresql://memo:p@ss@sekrit@127.0.0.1:1/x",  # @ not encoded: the tail becomes the host
        "postgresql://memo:pa/sekrit@127.0.0.1/x",  # / not encoded: the tail becomes the dbname
    ],
)
def test_a_misencoded_postgres_url_is_refused_without_quoting_it(raw):
    with pytest.raises(DatabaseLocationError) as refused:
        parse_location(raw)
    assert "sekrit" not in str(refused.value) and "URL-encoded" in str(refused.value)


def test_only_paths_sqlite_urls_and_postgres_are_database_locations():
    assert parse_location("chat.db") == parse_location("sqlite:///chat.db")
    assert parse_location("sqlite:////tmp/chat.db").target == "/tmp/chat.db"
    for raw in ("mysql://x", "postgresq://u:sekrit@h/x", "http://example.com/db", "sqlite://h/x"):
        with pytest.raises(DatabaseLocationError) as refused:
            parse_location(raw)
        assert "sekrit" not in str(refused.value)


# Item 5: export documents


def good_export() -> dict:
    message = {"type": "human", "content": "hola", "id": "m1"}
    reply = {"type": "ai", "content": "hola", "id": "m2", "model": "echo", "usage": [3, 1]}
    return {
        "format": "memoria.thread",
        "version": 2,
        "thread_id": "t",
        "created_at": "2026-01-02T03:04:05+00:00",
        "updated_at": "2026-01-02T03:04:05+00:00",
        "settings": {"model": "echo"},
        "memory": {"summary": "", "turns": 1, "token_scale": 1.0, "messages": [message, reply]},
        "turns": [
            {"created_at": "2026-01-02T03:04:05+00:00", "messages": [dict(message), dict(reply)]}
        ],
    }


def with_change(path: str, value) -> dict:
    document = copy.deepcopy(good_export())
    *parents, last = path.split(".")
    target = document
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    target[int(last) if last.isdigit() else last] = value
    return document


BAD_EXPORTS = [
    ("memory.turns", "abc", "memory.turns"),
    ("memory.turns", 1e308, "memory.turns"),
    ("memory.turns", -5, "memory.turns"),
    ("memory.turns", 3, "memory.turns says 3 but the transcript has 1"),
    ("memory.summary", 12345, "memory.summary"),
    ("memory.token_scale", "NaN", "memory.token_scale"),
    ("memory.token_scale", float("nan"), "memory.token_scale"),
    ("memory.summarised_turns", 7, "memory.summarised_turns"),
    ("settings", "x", "settings"),
    ("thread_id", None, "thread_id"),
    ("thread_id", "t" * 100_000, "thread_id"),
    ("turns", "abc", "turns"),
    ("turns.0.messages.0.type", "alien", "turns.0.messages.0.type"),
    ("turns.0.messages.0.id", "i" * 100_000, "turns.0.messages.0.id"),
    ("turns.0.messages.1.usage", [1e308, 1], "turns.0.messages.1.usage.0"),
    ("turns.0.messages.1.usage", "ab", "turns.0.messages.1.usage"),
    ("turns.0.messages.1.model", 5, "turns.0.messages.1.model"),
    ("turns.0.messages.1.tool_calls", "zzz", "turns.0.messages.1.tool_calls"),
    ("turns.0.messages.1.tool_calls", [{"x": 1}], "turns.0.messages.1"),
    ("turns.0.messages.0", {"type": "tool", "content": "x"}, "turns.0.messages.0"),
    ("turns.0.created_at", "yesterday", "turns.0.created_at"),
    ("memory.messages.0.type", "alien", "memory.messages.0.type"),
]


@pytest.mark.parametrize("path, value, where", BAD_EXPORTS)
def test_a_bad_export_is_refused_in_one_line_saying_where(path, value, where):
    with pytest.raises(ExportFormatError) as refused:
        ThreadExport.from_json(with_change(path, value))
    message = str(refused.value)
    assert message.startswith("invalid Memoria export: ") and where in message, message
    assert "\n" not in message and len(message) < 300, message


def test_a_good_export_reads_back():
    export = ThreadExport.from_json(good_export())
    assert [m.content for m in export.turns[0].messages] == ["hola", "hola"]
    assert export.turns[0].messages[1].usage_metadata["input_tokens"] == 3


@pytest.mark.parametrize(
    "encode",
    [
        lambda text: codecs.BOM_UTF8 + text.encode("utf-8"),
        lambda text: text.encode("utf-16"),
        lambda text: codecs.BOM_UTF16_BE + text.encode("utf-16-be"),
        lambda text: text.encode("utf-32"),
    ],
)
def test_an_export_with_a_bom_or_in_utf16_is_read(encode):
    text = json.dumps(good_export() | {"thread_id": "año-東京"}, ensure_ascii=False)
    assert decode_document(encode(text))["thread_id"] == "año-東京"


def test_an_unreadable_file_is_one_clear_line():
    for data in (b"\xff\xfe\x00", b'{"a": "\xff"}', b"[" * 100_000 + b"]" * 100_000):
        with pytest.raises(ExportFormatError) as refused:
            decode_document(data)
        assert "\n" not in str(refused.value)


# Item 10: settings from an import


def test_imported_settings_keep_only_what_a_user_could_type():
    kept, notes = vet_settings(
        {
            "model": "local:/etc/hostname",
            "summary_model": "echo:100000",
            "k": 3,
            "bogus": 1,
            "request_timeout": float("nan"),
            "system_prompt": "Be brief.",
        }
    )
    assert kept == {"k": 3, "system_prompt": "Be brief."}
    joined = "\n".join(notes)
    for word in ("local:/etc/hostname", "echo:100000", "bogus", "request_timeout"):
        assert word in joined


@pytest.mark.parametrize(
    "spec",
    [
        "local:/etc/hostname",
        "huggingface:/etc/passwd",
        "llamacpp:./m.gguf",
        "ollama:~/m",
        "x:a/../b",
    ],
)
def test_an_imported_model_never_names_a_file(spec):
    assert vet_settings({"model": spec}) == (
        {},
        [f"dropped model {spec!r}: an imported thread may not name a model file"],
    )


@pytest.mark.parametrize(
    "spec",
    ["echo", "local", "groq:llama-3.3-70b-versatile", "groq:meta-llama/llama-4"],
)
def test_ordinary_models_are_kept(spec):
    assert vet_settings({"model": spec, "system_prompt": SYSTEM_PROMPT})[0]["model"] == spec
