"""Threads on SQLite: resumption, transcripts, pruning, rollback, export/import, delete, legacy pickles."""

from __future__ import annotations

import os
import pickle
import sqlite3
import subprocess
import sys
import time

import pytest
from fakes import FailingEcho

# Imported at collection: importing them re-enables LangChain deprecation warnings.
from langchain_classic.memory import ConversationBufferMemory, ConversationBufferWindowMemory
from langchain_core.chat_history import InMemoryChatMessageHistory
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from memoria import Context
from memoria.agent import Memoria, ThreadExistsError, ThreadNotFoundError
from memoria.legacy import LegacyPickleError, load_legacy_memory
from memoria.persistence.sqlite import PAGE_SIZE
from memoria.threads import ExportFormatError, ThreadExport

SEED_CONVERSATION = [
    (
        "Hola, Sabes que equipos llegaron a la final en mundial de fútbol de Mexico en 1986. "
        "Respondeme en español",
        "La final del Mundial de México 1986 la jugaron Argentina y Alemania Federal.",
    ),
    (
        "¿quienes eran los directores técnicos de cada selección?",
        "Carlos Bilardo dirigía a Argentina y Franz Beckenbauer a Alemania Federal.",
    ),
]


@pytest.fixture
def db(tmp_path):
    return tmp_path / "threads.sqlite"


def open_agent(db, **context):
    return Memoria(db=db, context=Context(model="echo", **context))


def rows(db, sql, *params):
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


def test_database_is_owner_only_wal_and_uses_large_pages(db):
    with open_agent(db) as agent:
        agent.send("a", "hola")
    assert db.stat().st_mode & 0o777 == 0o600
    assert rows(db, "PRAGMA journal_mode") == [("wal",)]
    assert rows(db, "PRAGMA page_size") == [(PAGE_SIZE,)]
    assert rows(db, "PRAGMA auto_vacuum") == [(2,)]


def test_a_new_agent_resumes_summary_turns_and_calibration(db):
    context = {"memory": "summary"}
    with open_agent(db, **context) as agent:
        for text in ["Me llamo Juan.", "Vivo en Bogotá.", "Soy ingeniero."]:
            agent.send("juan", text)
        before = agent.state("juan")
    with open_agent(db, **context) as agent:
        resumed = agent.state("juan")
        assert (resumed.summary, resumed.turns, resumed.summarised_turns, resumed.token_scale) == (
            before.summary,
            before.turns,
            before.summarised_turns,
            before.token_scale,
        )
        agent.send("juan", "¿Dónde vivo?")
        assert "Vivo en Bogotá." in agent.state("juan").summary
        assert agent.state("juan").turns == 4


def test_only_the_newest_checkpoint_is_kept(db):
    with open_agent(db) as agent:
        for n in range(25):
            agent.send("p", f"mensaje {n}")
    assert rows(db, "SELECT count(*) FROM checkpoints WHERE thread_id = 'p'") == [(1,)]
    assert rows(db, "SELECT count(*) FROM writes") == [(0,)]


def test_the_transcript_keeps_everything_the_view_lets_go(db):
    with open_agent(db, memory="hybrid", k=2, max_tokens=200) as agent:
        sent = [f"Mensaje {n}: " + "contenido " * 10 for n in range(30)]
        for text in sent:
            agent.send("t", text)
        assert len(agent.state("t").messages) < 20
        assert [m.content for m in agent.transcript("t")] == [c for t in sent for c in (t, t)]


def test_a_failed_turn_leaves_the_thread_exactly_as_it_was(db):
    model = FailingEcho()
    with Memoria(db=db, context=Context(model="echo", memory="summary"), model=model) as agent:
        agent.send("f", "uno")
        agent.send("f", "dos")
        before = agent.graph.get_state(agent.config("f"))
        transcript = agent.transcript("f")
        model.fail = True
        with pytest.raises(ConnectionError):
            agent.send("f", "tres")
        after = agent.graph.get_state(agent.config("f"))
        assert after.values == before.values
        assert after.config == before.config
        assert agent.transcript("f") == transcript
        model.fail = False
        agent.send("f", "tres otra vez")
        assert [m.content for m in agent.transcript("f")][-2:] == ["tres otra vez"] * 2
        assert agent.state("f").turns == 3


def test_thread_listing(db):
    with open_agent(db) as agent:
        agent.send("first", "El primer hilo")
        agent.send("second", "El segundo hilo, " + "largo " * 30)
        agent.send("second", "otra vez")
        infos = {info.thread_id: info for info in agent.threads()}
        assert agent.latest_thread() == "second"
    assert infos["second"].turns == 2 and infos["first"].turns == 1
    assert infos["first"].title == "El primer hilo"
    assert infos["second"].title.startswith("El segundo hilo, largo")
    assert infos["second"].size_bytes > infos["first"].size_bytes > 0
    assert infos["second"].updated_at >= infos["first"].updated_at


def test_json_export_round_trips_exactly(db, tmp_path):
    with open_agent(db, memory="hybrid", k=1, max_tokens=150) as agent:
        for n in range(12):
            agent.send("orig", f"Pregunta {n}: " + "texto " * 8)
        agent.graph.invoke(
            {
                "messages": [
                    HumanMessage("¿Clima?"),
                    AIMessage("", tool_calls=[{"name": "w", "args": {"c": 1}, "id": "c1"}]),
                    ToolMessage("sol", tool_call_id="c1"),
                ]
            },
            agent.config("orig"),
            context=agent.context,
        )
        original = agent.export_thread("orig").to_json()
        agent.import_thread(ThreadExport.from_json(original), "copy")
        copied = agent.export_thread("copy").to_json()
        assert {**copied, "thread_id": "orig"} == original
        assert original["memory"]["summary"] and original["memory"]["turns"] == 13
        assert agent.state("copy").summary == agent.state("orig").summary
        agent.send("copy", "sigue")  # the imported thread is a working thread
        with pytest.raises(ThreadExistsError):
            agent.import_thread(ThreadExport.from_json(original), "orig")
    assert original["created_at"] and original["turns"][0]["created_at"]
    markdown = ThreadExport.from_json(original).to_markdown()
    assert "## Turn 1" in markdown and "**User:** Pregunta 0" in markdown


def test_bad_exports_are_refused(db):
    with pytest.raises(ExportFormatError):
        ThreadExport.from_json({"hello": "world"})
    with pytest.raises(ExportFormatError):
        ThreadExport.from_json({"format": "memoria.thread", "version": 1, "thread_id": "x"})


def test_delete_removes_every_row_and_gives_space_back(db, tmp_path):
    reference = tmp_path / "reference.sqlite"
    with open_agent(reference) as agent:
        agent.send("keep", "me quedo")
        agent.database.reclaim()
    with open_agent(db) as agent:
        for n in range(200):
            agent.send("big", f"mensaje {n} " + "relleno " * 100)
        agent.send("keep", "me quedo")
        agent.checkpointer.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size_before = db.stat().st_size
        agent.delete_thread("big")
        with pytest.raises(ThreadNotFoundError):
            agent.delete_thread("big")
        assert agent.transcript("keep") and [i.thread_id for i in agent.threads()] == ["keep"]
    assert rows(db, "SELECT count(*) FROM checkpoints WHERE thread_id = 'big'") == [(0,)]
    assert rows(db, "SELECT count(*) FROM writes WHERE thread_id = 'big'") == [(0,)]
    assert rows(db, "SELECT count(*) FROM memoria_turns WHERE thread_id = 'big'") == [(0,)]
    assert rows(db, "SELECT count(*) FROM memoria_threads WHERE thread_id = 'big'") == [(0,)]
    assert rows(db, "SELECT count(*) FROM memoria_search_docsize") == rows(
        db, "SELECT count(*) FROM memoria_turns"
    )
    assert rows(db, "PRAGMA freelist_count") == [(0,)]
    assert db.stat().st_size < size_before / 2
    # What is left is the size of a database that only ever held "keep" (give or take a page).
    assert db.stat().st_size <= reference.stat().st_size + 2 * PAGE_SIZE


def seed_memory_pickle(kind: str = "buffer") -> bytes:
    """A memory.pkl made exactly as the seed makes it: pickle.dumps(conversation.memory)."""
    memory = ConversationBufferMemory() if kind == "buffer" else ConversationBufferWindowMemory(k=2)
    for question, answer in SEED_CONVERSATION:
        memory.save_context({"input": question}, {"output": answer})
    return pickle.dumps(memory)


@pytest.mark.parametrize("kind", ["buffer", "window"])
def test_legacy_seed_pickle_imports_as_a_thread(db, kind):
    with open_agent(db) as agent:
        agent.import_legacy_pickle(seed_memory_pickle(kind), "legacy")
        transcript = agent.transcript("legacy")
        assert [(m.type, m.content) for m in transcript] == [
            (kind_, text)
            for question, answer in SEED_CONVERSATION
            for kind_, text in (("human", question), ("ai", answer))
        ]
        assert agent.state("legacy").turns == 2
        agent.send("legacy", "¿qué equipos participaron en las semifinales?")
        assert agent.state("legacy").turns == 3


def test_legacy_chat_message_history_and_protocol_0_pickles(db):
    history = InMemoryChatMessageHistory()
    history.add_user_message("Hola, necesito asesoría para conectarme a la red wifi desde el PC")
    history.add_ai_message("Claro: abre la configuración de red y elige tu red wifi.")
    for protocol in (0, pickle.HIGHEST_PROTOCOL):
        messages, summary = load_legacy_memory(pickle.dumps(history, protocol=protocol))
        assert [m.type for m in messages] == ["human", "ai"] and summary == ""


class Exploit:
    def __reduce__(self):
        return (os.system, ("touch pwned-by-pickle",))


@pytest.mark.parametrize(
    "payload",
    [
        pickle.dumps(Exploit()),
        pickle.dumps([Exploit()]),
        pickle.dumps({"chat_memory": eval}),
        b"not a pickle at all",
    ],
    ids=["os.system", "nested", "builtin", "garbage"],
)
def test_malicious_or_foreign_pickles_are_refused_without_running(db, tmp_path, payload):
    with open_agent(db) as agent, pytest.raises(LegacyPickleError):
        agent.import_legacy_pickle(payload, "evil")
    assert not (tmp_path / "pwned-by-pickle").exists()
    with open_agent(db) as agent:
        assert not agent.exists("evil")


def test_code_hidden_inside_an_allowed_memory_class_is_refused(tmp_path):
    memory = ConversationBufferMemory()
    memory.chat_memory.add_user_message("hola")
    # A message whose content unpickles by calling os.system: the allow-list must stop it.
    memory.chat_memory.messages.append(HumanMessage.model_construct(content=Exploit()))
    with pytest.raises(LegacyPickleError, match=r"refusing to load posix\.system"):
        load_legacy_memory(pickle.dumps(memory))
    with pytest.raises(LegacyPickleError, match="refusing"):
        load_legacy_memory(b"cposix\nsystem\n(S'touch pwned-by-pickle'\ntR.")
    assert not (tmp_path / "pwned-by-pickle").exists()


CLOSE_AFTER_CANCEL = """
import sys
from memoria import Context, Memoria
from memoria.models import EchoChatModel

FILLER = [
    "Hoy hizo mucho calor en la oficina y el aire acondicionado no funcionaba bien.",
    "Estuve leyendo sobre la historia del ferrocarril en Europa durante el siglo diecinueve.",
]
path = sys.argv[1]
# A small view, so that turns leave it and the cancelled turn's recall step searches them.
context = Context(model="echo", memory="hybrid", k=2, max_tokens=600)
with Memoria(db=path, context=context) as agent:
    for n in range(6):
        agent.send("a", f"{FILLER[n % 2]} (nota {n})")
for _ in range(50):
    with Memoria(db=path, context=context, model=EchoChatModel(delay=0.5)) as slow:
        slow.start("a", "esta respuesta se cancela", streaming=False).cancel()
    # closed: the cancelled turn's worker was still reading the database
print("ok")
"""


def test_closing_right_after_cancelling_a_turn_does_not_crash_the_process(tmp_path):
    """sqlite3 crashes the process when a connection is closed under a query another thread is
    running; a cancelled turn's worker may still be in one. Run where a crash cannot take pytest."""
    result = subprocess.run(
        [sys.executable, "-c", CLOSE_AFTER_CANCEL, str(tmp_path / "close.sqlite")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "ok"


@pytest.mark.parametrize("shape", ["nested", "repeated", "deep"])
def test_a_pickle_that_expands_when_read_is_refused_fast(db, shape):
    """Round three, item 5: 543 bytes nesting one dict twice at each of 26 levels ran 61 s and
    took 3 GB before a MemoryError. Now: one line, at once, nothing written."""
    history = InMemoryChatMessageHistory()
    if shape == "nested":
        level: dict = {"type": "text", "text": "x"}
        for _ in range(26):
            level = {"type": "text", "a": level, "b": level}
        history.add_message(HumanMessage(content=[level]))
    elif shape == "repeated":
        block = {"type": "text", "text": "y" * 1000}
        history.add_message(HumanMessage(content=[block] * 20_000))  # 20 MB from 240 KB
    else:
        level = {"type": "text", "text": "z"}
        for _ in range(40):
            level = {"type": "text", "inner": level}
        history.add_message(HumanMessage(content=[level]))
    payload = pickle.dumps(history)
    assert len(payload) < 300_000
    started = time.monotonic()
    with open_agent(db) as agent, pytest.raises(LegacyPickleError, match="refused"):
        agent.import_legacy_pickle(payload, "bomb")
    assert time.monotonic() - started < 5
    with open_agent(db) as agent:
        assert not agent.exists("bomb")
