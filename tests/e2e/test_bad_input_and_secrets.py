"""Bad input and untrusted data at the command line; the API key never lands anywhere."""

from __future__ import annotations

import json
from dataclasses import dataclass

from groq_stub import Fault, GroqStub, is_summary_request

from memoria.persistence.sqlite import strict_serializer

SECRET = "gsk_live_SECRET_do_not_store_1234567890"


def test_a_message_larger_than_the_model_context(memoria, tmp_path):
    db = str(tmp_path / "big.sqlite")
    assert memoria("ask", "Hola", "--model", "local", "--db", db, "--thread", "t").returncode == 0
    huge = "palabra " * 6000  # far beyond SmolLM2's 4096-token window
    result = memoria("ask", "-", "-c", "--model", "local", "--db", db, stdin=huge)
    assert result.returncode == 1
    assert "too large for the model's context" in result.stderr
    assert result.stderr.strip().count("\n") == 1  # the thread line, then the one error line
    shown = memoria("threads", "show", "t", "--db", db).stdout
    assert shown.count("user: ") == 1 and "palabra" not in shown


def test_a_corrupted_database_and_an_unwritable_path(memoria, tmp_path):
    corrupted = tmp_path / "corrupt.sqlite"
    corrupted.write_bytes(b"this is not a database" * 500)
    for args in (("ask", "hola", "--model", "echo"), ("threads", "list")):
        result = memoria(*args, "--db", str(corrupted))
        assert result.returncode == 1
        assert (
            result.stderr
            == f"memoria: cannot open the database {corrupted}: file is not a database\n"
        )
    result = memoria("ask", "hola", "--model", "echo", "--db", "/proc/memoria/chat.sqlite")
    assert result.returncode == 1
    assert result.stderr.startswith("memoria: cannot open the database /proc/memoria/chat.sqlite:")
    assert corrupted.read_bytes() == b"this is not a database" * 500, "the file is left untouched"


def test_thread_ids_with_path_or_sql_characters_are_refused(memoria, tmp_path):
    db = str(tmp_path / "ids.sqlite")
    for thread in ("../../etc/passwd", "x'; DROP TABLE checkpoints; --", "a b", ""):
        result = memoria("ask", "hola", "--model", "echo", "--thread", thread, "--db", db)
        assert result.returncode == 1, thread
        assert "invalid thread id" in result.stderr and result.stderr.count("\n") == 1


def test_summary_failures_show_in_verbose_output(memoria, tmp_path):
    db = str(tmp_path / "v.sqlite")
    with GroqStub() as stub:
        env = {"GROQ_API_KEY": SECRET, "GROQ_API_BASE": stub.base_url}
        args = ("--memory", "summary", "--db", db, "--thread", "v", "-v")
        assert memoria("ask", "Me llamo Juan.", *args, env=env).returncode == 0
        stub.faults.extend([Fault(503, only=is_summary_request)] * 3)
        failed = memoria("ask", "Vivo en Bogotá.", *args, env=env)
        assert failed.returncode == 0 and failed.stdout == "Respuesta a: Vivo en Bogotá.\n"
        assert "summary failed: the model provider failed (503): try again later" in failed.stderr
        assert "Error code" not in failed.stderr  # one clear line, not the provider's raw body
        assert "(folded with the extractive summary instead; the next fold asks" in failed.stderr
        shown = memoria("threads", "show", "v", "--db", db)
        assert "last summary failed: the model provider failed (503): try again later (1 in a " in (
            shown.stdout
        )
        retried = memoria("ask", "Soy ingeniero.", *args, env=env)
        assert "folded 1 turn(s) into the summary" in retried.stderr
        assert "summary failed" not in retried.stderr


def test_the_api_key_never_reaches_the_database_exports_or_output(memoria, tmp_path):
    db = tmp_path / "secret.sqlite"
    outputs = []
    with GroqStub() as stub:
        env = {"GROQ_API_KEY": SECRET, "GROQ_API_BASE": stub.base_url}
        for text in ["Me llamo Juan.", "Vivo en Bogotá.", "Soy ingeniero."]:
            result = memoria(
                "ask",
                text,
                "--db",
                str(db),
                "--thread",
                "s",
                "-v",
                "--json",
                "--memory",
                "summary",
                env=env,
            )
            assert result.returncode == 0, result.stderr
            outputs += [result.stdout, result.stderr]
        stub.faults.append(Fault(401))
        failed = memoria("ask", "hola", "--db", str(db), "--thread", "s", "-v", env=env)
        outputs += [failed.stdout, failed.stderr]
        assert stub.headers[-1]["Authorization"] == f"Bearer {SECRET}"  # it was really used
    for args in (
        ("threads", "export", "s"),
        ("threads", "export", "s", "--format", "md"),
        ("threads", "show", "s", "--context"),
        ("threads", "list", "--json"),
    ):
        result = memoria(*args, "--db", str(db))
        outputs += [result.stdout, result.stderr]
    assert json.loads(outputs[0])["reply"]
    for text in outputs:
        assert SECRET not in text
    for path in tmp_path.iterdir():
        assert SECRET.encode() not in path.read_bytes(), path


def test_the_database_and_its_lock_file_are_owner_only(memoria, tmp_path):
    db = tmp_path / "own.sqlite"
    assert memoria("ask", "hola", "--model", "echo", "--db", str(db)).returncode == 0
    for path in tmp_path.iterdir():
        assert path.stat().st_mode & 0o077 == 0, path


@dataclass
class Gadget:
    command: str


def test_checkpoints_are_read_with_strict_msgpack():
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

    permissive = JsonPlusSerializer(allowed_msgpack_modules=True)
    blob = permissive.dumps_typed({"value": Gadget("touch /tmp/pwned")})
    assert isinstance(permissive.loads_typed(blob)["value"], Gadget)
    loaded = strict_serializer().loads_typed(blob)
    assert not isinstance(loaded["value"], Gadget), "strict mode must not build unknown classes"


def test_a_five_megabyte_message_goes_through_in_linear_time_and_memory(memoria, tmp_path):
    db = str(tmp_path / "huge.sqlite")
    huge = "palabra " * 650_000  # 5.2 MB; the echo model streams it back
    result = memoria("ask", "-", "--model", "echo", "--db", db, "--thread", "h", stdin=huge)
    assert result.returncode == 0, result.stderr[-500:]
    assert result.stdout == huge + "\n"
    shown = memoria("threads", "show", "h", "--json", "--db", db)
    assert json.loads(shown.stdout)["turns"] == 1
