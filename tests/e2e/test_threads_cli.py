"""`memoria threads ...` and `memoria import`, and two processes sharing one thread."""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import subprocess
from pathlib import Path

import pytest
from fakes import body

# Imported at collection: importing it re-enables LangChain deprecation warnings.
from langchain_classic.memory import ConversationBufferMemory
from processes import MEMORIA

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
    shown = body(memoria("threads", "show", "t", "--db", db).stdout)
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
    assert body(memoria("threads", "show", "viejo", "--db", db).stdout) == [
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
    shown = memoria("threads", "show", "r", "--context", "--db", db).stdout
    assert "settings: model=echo, memory=window, k=1" in shown
    assert body(shown) == ["system: Eres breve.", "user: tres", "assistant: tres"]

    overridden = memoria("ask", "cuatro", "-c", "--memory", "buffer", "--db", db, "--json")
    assert json.loads(overridden.stdout)["memory"] == "buffer"
    exported = json.loads(memoria("threads", "export", "r", "--db", db).stdout)
    assert exported["settings"]["memory"] == "buffer"
    assert exported["settings"]["system_prompt"] == "Eres breve."


def test_search_show_fork_and_rename_from_the_command_line(memoria, tmp_path):
    db = str(tmp_path / "cli.sqlite")
    chat = memoria(
        "chat",
        "--model",
        "echo",
        "--db",
        db,
        "--thread",
        "viaje",
        stdin="Mi vuelo a Lisboa sale el 3 de mayo.\nReservé un hotel cerca del río.\n",
    )
    assert chat.returncode == 0, chat.stderr
    found = memoria("threads", "search", "lisboa vuelos", "--db", db)
    assert found.returncode == 0, found.stderr
    assert found.stdout.splitlines()[0].startswith("viaje  turn 1  score ")
    assert "[vuelo]" in found.stdout and "[Lisboa]" in found.stdout  # highlighted, accents kept
    as_json = json.loads(memoria("threads", "search", "hotel", "--json", "--db", db).stdout)
    assert [(hit["thread_id"], hit["turn"]) for hit in as_json] == [("viaje", 2)]
    assert "[hotel]" in as_json[0]["snippet"]
    nothing = memoria("threads", "search", "tiburón", "--db", db)
    assert nothing.returncode == 0 and nothing.stderr.strip() == "no match"

    shown = json.loads(memoria("threads", "show", "viaje", "--json", "--db", db).stdout)
    assert (shown["thread_id"], shown["turns"]) == ("viaje", 2)
    assert shown["created_at"] <= shown["updated_at"] and shown["settings"]["model"] == "echo"
    assert len(shown["messages"]) == 4

    fork = memoria("threads", "fork", "viaje", "--at", "1", "--as", "viaje-b", "--db", db)
    assert fork.returncode == 0 and fork.stdout.strip() == "viaje-b"
    assert body(memoria("threads", "show", "viaje-b", "--db", db).stdout) == [
        "user: Mi vuelo a Lisboa sale el 3 de mayo.",
        "assistant: Mi vuelo a Lisboa sale el 3 de mayo.",
    ]
    renamed = memoria("threads", "rename", "viaje-b", "escapada", "--db", db)
    assert renamed.returncode == 0, renamed.stderr
    listing = json.loads(memoria("threads", "list", "--json", "--db", db).stdout)
    assert {t["thread_id"] for t in listing} == {"viaje", "escapada"}
    markdown = memoria("threads", "export", "escapada", "--format", "md", "--db", db).stdout
    assert "- **turns:** 1" in markdown and "- **created:** " in markdown


def test_threads_list_shows_the_newest_twenty_unless_asked(memoria, tmp_path):
    from memoria import Context, Memoria

    db = tmp_path / "many.sqlite"
    with Memoria(db=db, context=Context(model="echo")) as agent:
        for n in range(25):
            agent.send(f"hilo-{n:02d}", f"mensaje {n}")
    listed = json.loads(memoria("threads", "list", "--json", "--db", str(db)).stdout)
    assert [t["thread_id"] for t in listed] == [f"hilo-{n:02d}" for n in range(24, 4, -1)]
    assert (
        len(json.loads(memoria("threads", "list", "--all", "--json", "--db", str(db)).stdout)) == 25
    )
    three = memoria("threads", "list", "--limit", "3", "--db", str(db)).stdout.splitlines()
    assert len(three) == 4 and three[1].startswith("hilo-24")
    head = subprocess.run(
        f"{MEMORIA} threads list --all --db {db} | head -1",
        shell=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert head.stdout.startswith("THREAD") and head.stderr == "", "a closed pipe ends quietly"


def test_recall_in_chat_previews_what_a_message_brings_back(memoria, tmp_path):
    db = str(tmp_path / "recall.sqlite")
    lines = ["Mi perra se llama Canela y tiene tres años."]
    lines += [f"Hablemos de otra cosa, asunto {n}: " + "detalle variado " * 6 for n in range(14)]
    lines += ["/recall ¿cómo se llama mi perra?", "/recall zzz", "/context"]
    chat = memoria(
        "chat",
        "--model",
        "echo",
        "--db",
        db,
        "--thread",
        "r",
        "-k",
        "2",
        "--max-tokens",
        "600",
        stdin="\n".join(lines) + "\n",
    )
    assert chat.returncode == 0, chat.stderr
    out = chat.stdout
    assert "turn 1 · score " in out and "Mi perra se llama Canela" in out
    assert "(nothing earlier would be recalled)" in out
    assert "recall depends on it" in chat.stderr or "depend on it" in chat.stderr


def test_fork_in_chat_continues_in_a_copy_and_leaves_the_original(memoria, tmp_path):
    db = str(tmp_path / "fork.sqlite")
    chat = memoria(
        "chat",
        "--model",
        "echo",
        "--db",
        db,
        "--thread",
        "tronco",
        stdin="primero\n/fork rama\nsolo en la rama\n",
    )
    assert chat.returncode == 0, chat.stderr
    assert "forked tronco into rama; now continuing in rama" in chat.stderr
    trunk = body(memoria("threads", "show", "tronco", "--db", db).stdout)
    branch = body(memoria("threads", "show", "rama", "--db", db).stdout)
    assert trunk == ["user: primero", "assistant: primero"]
    assert branch == [*trunk, "user: solo en la rama", "assistant: solo en la rama"]


def test_a_search_with_too_many_terms_says_which_it_searched(memoria, tmp_path):
    db = str(tmp_path / "s.sqlite")
    assert memoria("ask", "Mi perro se llama Toby.", "--model", "echo", "--db", db).returncode == 0
    query = "perro " + " ".join(f"zq{n}x" for n in range(100))
    found = memoria("threads", "search", query, "--db", db)
    assert found.returncode == 0
    assert found.stderr == (
        "memoria: the query has 101 distinct terms; searching for its first 64\n"
    )
    assert "turn 1" in found.stdout


@contextlib.contextmanager
def read_only_view(folder: Path):
    """`folder` as read-only media: a read-only bind mount for root (who writes anywhere else),
    the folder itself made read-only for anyone else."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield folder
        finally:
            folder.chmod(0o755)
        return
    view = folder.with_name(folder.name + "-ro")
    view.mkdir()
    subprocess.run(["mount", "--bind", str(folder), str(view)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(view)], check=True)
        yield view
    finally:
        subprocess.run(["umount", str(view)], check=True)


def test_a_database_on_read_only_media_can_be_read(memoria, tmp_path):
    """Round three, item 13: a cleanly closed database in a read-only folder could not be read
    ("unable to open database file": SQLite makes its -shm file beside it)."""
    media = tmp_path / "media"
    media.mkdir()
    db = media / "m.sqlite"
    assert memoria("ask", "Mi perro se llama Toby.", "--model", "echo", "--thread", "t",
                   "--db", str(db)).returncode == 0  # fmt: skip
    assert sorted(p.name for p in media.iterdir()) == ["m.sqlite"], "closed cleanly: no -wal"
    with read_only_view(media) as view:
        path = str(view / "m.sqlite")
        with pytest.raises(OSError):
            (view / "probe").write_text("x")
        for args, expected in (
            (("threads", "list"), "Mi perro se llama Toby."),
            (("threads", "show", "t"), "user: Mi perro se llama Toby."),
            (("threads", "search", "perro"), "turn 1"),
            (("threads", "export", "t"), '"thread_id": "t"'),
        ):
            result = memoria(*args, "--db", path)
            assert result.returncode == 0, (args, result.stderr)
            assert expected in result.stdout, args
        written = memoria("ask", "hola", "--model", "echo", "--thread", "t", "--db", path)
        assert written.returncode == 1 and written.stderr.count("\n") == 1, written.stderr
