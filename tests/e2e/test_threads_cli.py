"""`memoria threads ...` and `memoria import`, and two processes sharing one thread."""

from __future__ import annotations

import json
import pickle

# Imported at collection: importing it re-enables LangChain deprecation warnings.
from langchain_classic.memory import ConversationBufferMemory

SUMMARY_CHAT = ("--model", "echo", "--memory", "summary")


def test_two_processes_continue_one_thread_with_all_its_memory(memoria, tmp_path):
    db = str(tmp_path / "shared.sqlite")
    first = memoria(
        "chat",
        *SUMMARY_CHAT,
        "--db",
        db,
        "--thread",
        "t",
        stdin="Me llamo Juan.\nVivo en Bogotá.\n",
    )
    assert first.returncode == 0, first.stderr
    second = memoria("chat", *SUMMARY_CHAT, "--db", db, "--thread", "t", stdin="Soy ingeniero.\n")
    assert second.returncode == 0, second.stderr

    context = memoria("threads", "show", "t", "--context", "--db", db)
    assert context.returncode == 0, context.stderr
    system = context.stdout.split("\nuser:")[0]
    assert "Me llamo Juan." in system and "Vivo en Bogotá." in system  # the summary carried over
    listing = json.loads(memoria("threads", "list", "--json", "--db", db).stdout)
    assert listing[0]["thread_id"] == "t" and listing[0]["turns"] == 3
    shown = memoria("threads", "show", "t", "--db", db).stdout.splitlines()
    assert shown == [
        "user: Me llamo Juan.",
        "assistant: Me llamo Juan.",
        "user: Vivo en Bogotá.",
        "assistant: Vivo en Bogotá.",
        "user: Soy ingeniero.",
        "assistant: Soy ingeniero.",
    ]


def test_export_import_round_trip_and_delete(memoria, tmp_path):
    db = str(tmp_path / "a.sqlite")
    memoria("chat", "--model", "echo", "--db", db, "--thread", "orig", stdin="uno\ndos\n")
    exported = tmp_path / "orig.json"
    result = memoria(
        "threads", "export", "orig", "--format", "json", "-o", str(exported), "--db", db
    )
    assert result.returncode == 0, result.stderr

    other_db = str(tmp_path / "b.sqlite")
    imported = memoria("import", str(exported), "--db", other_db)
    assert imported.returncode == 0 and imported.stdout.strip() == "orig"
    again = memoria("threads", "export", "orig", "--db", other_db)
    assert json.loads(again.stdout) == json.loads(exported.read_text())

    markdown = memoria("threads", "export", "orig", "--format", "md", "--db", other_db).stdout
    assert markdown.startswith("# Thread orig") and "**User:** dos" in markdown

    duplicate = memoria("threads", "import", str(exported), "--db", other_db)
    assert duplicate.returncode == 1 and "already exists" in duplicate.stderr
    renamed = memoria("threads", "import", str(exported), "--thread", "copia", "--db", other_db)
    assert renamed.returncode == 0 and renamed.stdout.strip() == "copia"

    deleted = memoria("threads", "delete", "orig", "--db", other_db)
    assert deleted.returncode == 0, deleted.stderr
    listing = json.loads(memoria("threads", "list", "--json", "--db", other_db).stdout)
    assert [t["thread_id"] for t in listing] == ["copia"]


def test_legacy_pickle_import_and_refusal(memoria, tmp_path):
    memory = ConversationBufferMemory()
    memory.save_context({"input": "Hola, soy Juan"}, {"output": "Hola Juan"})
    legacy = tmp_path / "memory.pkl"
    legacy.write_bytes(pickle.dumps(memory))
    db = str(tmp_path / "l.sqlite")
    result = memoria("import", str(legacy), "--thread", "viejo", "--db", db)
    assert result.returncode == 0, result.stderr
    assert memoria("threads", "show", "viejo", "--db", db).stdout.splitlines() == [
        "user: Hola, soy Juan",
        "assistant: Hola Juan",
    ]

    evil = tmp_path / "evil.pkl"
    evil.write_bytes(b"cposix\nsystem\n(S'touch pwned'\ntR.")
    refused = memoria("import", str(evil), "--db", db)
    assert refused.returncode == 1
    assert refused.stderr.startswith("memoria: refusing to load posix.system")
    assert "Traceback" not in refused.stderr and not (tmp_path / "pwned").exists()


def test_unknown_threads_are_one_line_errors(memoria, tmp_path):
    db = str(tmp_path / "e.sqlite")
    for args in (("show", "nope"), ("export", "nope"), ("delete", "nope")):
        result = memoria("threads", *args, "--db", db)
        assert result.returncode == 1
        assert result.stderr.strip() == f"memoria: no thread 'nope' in {db}"
    assert memoria("threads", "list", "--db", db).stderr.strip() == "no threads yet"


def test_a_resumed_thread_keeps_its_settings_unless_overridden(memoria, tmp_path):
    db = str(tmp_path / "settings.sqlite")
    first = memoria(
        "chat",
        "--model",
        "echo",
        "--memory",
        "window",
        "-k",
        "1",
        "--system",
        "Eres breve.",
        "--db",
        db,
        "--thread",
        "r",
        stdin="uno\ndos\n",
    )
    assert first.returncode == 0, first.stderr
    resumed = memoria("chat", "-c", "--db", db, stdin="tres\n/context\n")
    assert (
        "model echo · memory window (k=1" in resumed.stderr
        and "thread r (resumed)" in resumed.stderr
    )
    assert "no GROQ_API_KEY" not in resumed.stderr  # it stays on echo, as the thread was
    assert resumed.stdout.splitlines()[1:] == [
        "system: Eres breve.",
        "user: tres",
        "assistant: tres",
    ]
    shown = memoria("threads", "show", "r", "--context", "--db", db).stdout.splitlines()
    assert shown == ["system: Eres breve.", "user: tres", "assistant: tres"]

    overridden = memoria("ask", "cuatro", "-c", "--memory", "buffer", "--db", db, "--json")
    assert json.loads(overridden.stdout)["memory"] == "buffer"
    exported = json.loads(memoria("threads", "export", "r", "--db", db).stdout)
    assert exported["memory"]["settings"]["memory"] == "buffer"
    assert exported["memory"]["settings"]["system_prompt"] == "Eres breve."
