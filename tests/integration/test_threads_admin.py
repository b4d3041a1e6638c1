"""Forking, renaming and moving threads, on SQLite and on Postgres."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid

import pytest

from memoria import Context, Memoria
from memoria.threads import ThreadExport

RESUME = """
import sys
from memoria import Context, Memoria
db, thread, text = sys.argv[1:4]
with Memoria(db=db, context=Context(model="echo")) as agent:
    agent.resume(thread)
    agent.send(thread, text)
    print(agent.state(thread).turns, agent.context.memory)
"""


@pytest.fixture(params=["sqlite", "postgres"])
def db(request, tmp_path):
    if request.param == "sqlite":
        return str(tmp_path / "admin.sqlite")
    return request.getfixturevalue("postgres_url")


def new_id() -> str:
    return f"t{uuid.uuid4().hex[:8]}"


def snapshot(agent: Memoria, thread: str) -> tuple:
    state = agent.state(thread)
    return (state.summary, state.summarised_turns, [m.content for m in state.messages])


@pytest.mark.parametrize("memory", ["hybrid", "window", "buffer", "summary"])
def test_a_fork_at_turn_n_is_the_thread_as_it_stood_after_that_turn(db, memory):
    thread = new_id()
    context = Context(model="echo", memory=memory, k=2, max_tokens=300, summary_max_tokens=60)
    with Memoria(db=db, context=context) as agent:
        stood = []
        for n in range(12):
            agent.send(thread, f"Mensaje {n}: " + "contenido " * (5 + n % 4))
            stood.append(snapshot(agent, thread))
        original = agent.export_thread(thread).to_json()
        for at in (1, 5, 8, 12):
            fork = agent.fork_thread(thread, at=at, new=f"{thread}-at{at}")
            assert snapshot(agent, fork) == stood[at - 1], f"the fork at turn {at}"
            assert [t.messages[0].content for t in agent.turns(fork)] == [
                t.messages[0].content for t in agent.turns(thread)[:at]
            ]
        assert agent.export_thread(thread).to_json() == original, "the original is untouched"


def test_both_branches_evolve_independently_and_resume_in_new_processes(db):
    thread = new_id()
    with Memoria(db=db, context=Context(model="echo", memory="window", k=3)) as agent:
        for n in range(4):
            agent.send(thread, f"tronco {n}")
        branch = agent.fork_thread(thread, new=f"{thread}-b")
        agent.send(thread, "solo en el original")
        agent.send(branch, "solo en la rama")
    for target, text in ((thread, "otra vez el original"), (branch, "otra vez la rama")):
        done = subprocess.run(
            [sys.executable, "-c", RESUME, db, target, text],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == ["6", "window"], "settings and turns carried over"
    with Memoria(db=db, context=Context(model="echo")) as agent:
        assert [m.content for m in agent.transcript(thread)][::2][4:] == [
            "solo en el original",
            "otra vez el original",
        ]
        assert [m.content for m in agent.transcript(branch)][::2][4:] == [
            "solo en la rama",
            "otra vez la rama",
        ]
        assert [h.thread_id for h in agent.search("rama") if h.thread_id in (thread, branch)] == [
            branch,
            branch,
        ]


def test_imported_and_forked_threads_are_finished_with_nothing_left_to_run(db):
    """They are written as the graph's last node leaves a thread: resuming one runs nothing, so
    no turn is archived twice."""
    thread = new_id()
    with Memoria(db=db, context=Context(model="echo")) as agent:
        for n in range(3):
            agent.send(thread, f"Mensaje {n}")
        copies = [
            agent.fork_thread(thread, at=2, new=f"{thread}-at2"),
            agent.import_thread(agent.export_thread(thread), f"{thread}-imported").thread_id,
        ]
        for copy in copies:
            config = agent.config(copy)
            assert agent.graph.get_state(config).next == (), copy
            turns = agent.state(copy).turns
            agent.graph.invoke(None, config)  # what a caller resuming the thread would do
            assert agent.state(copy).turns == turns == len(agent.turns(copy)), copy


def test_forks_refuse_a_bad_turn_or_an_existing_name(db):
    thread = new_id()
    with Memoria(db=db, context=Context(model="echo")) as agent:
        agent.send(thread, "uno")
        agent.send(f"{thread}-x", "otro")
        with pytest.raises(ValueError, match="from 1 to 1"):
            agent.fork_thread(thread, at=2)
        with pytest.raises(ValueError, match="already exists"):
            agent.fork_thread(thread, new=f"{thread}-x")


def test_rename_moves_everything_and_keeps_it_searchable(db):
    old, new = new_id(), new_id()
    with Memoria(db=db, context=Context(model="echo", memory="summary")) as agent:
        for text in ("El cóndor vuela alto.", "Otro tema.", "Y otro más."):
            agent.send(old, text)
        before = agent.export_thread(old).to_json()
        agent.rename_thread(old, new)
        assert not agent.exists(old) and agent.archive.thread(old) is None
        after = agent.export_thread(new).to_json()
        assert {**after, "thread_id": old} == before
        assert [h.thread_id for h in agent.search("condor") if h.thread_id in (old, new)] == [new]
        agent.send(new, "sigue")
        assert agent.state(new).turns == 4


def test_moving_threads_between_databases_keeps_their_times_and_order(db, tmp_path):
    source = tmp_path / "source.sqlite"
    older, newer = new_id(), new_id()
    with Memoria(db=source, context=Context(model="echo")) as agent:
        agent.send(older, "el hilo viejo")
        time.sleep(0.05)
        agent.send(newer, "el hilo nuevo")
        exports = [agent.export_thread(t) for t in (newer, older)]
    with Memoria(db=db, context=Context(model="echo")) as agent:
        for export in exports:  # imported newest first: the order must come from the times
            agent.import_thread(ThreadExport.from_json(export.to_json()))
        listed = [i.thread_id for i in agent.threads(None) if i.thread_id in (older, newer)]
        assert listed == [newer, older]
        info = agent.thread_info(older)
        assert (info.created_at, info.updated_at) == (exports[1].created_at, exports[1].updated_at)
        assert agent.turns(older)[0].created_at == exports[1].turns[0].created_at


def test_a_writer_finishes_what_a_killed_import_or_rename_left(db):
    """What a kill -9 leaves halfway (round three, item 4), made by hand, on both backends:
    readers do not see the half-written threads, and the next writer undoes the import and
    completes the rename that had moved its transcript."""
    from memoria.persistence import ThreadRecord

    source, renamed, imported = new_id(), new_id(), new_id()
    with Memoria(db=db, context=Context(model="echo")) as agent:
        for text in ("uno", "dos", "tres"):
            agent.send(source, text)
        turns = agent.turns(source)
        # An import killed after its transcript, before its checkpoint.
        agent.archive.mark_pending(imported, "import")
        record = ThreadRecord(imported, turns[0].created_at, turns[-1].created_at, "uno")
        agent.archive.import_thread(record, turns, "es")
        # A rename killed past its point of no return: checkpoints copied, transcript moved.
        agent.archive.mark_pending(renamed, "rename", source)
        agent.checkpointer.copy_thread(source, renamed)
        agent.archive.rename(source, renamed)
    with Memoria(db=db, context=Context(model="echo"), read_only=True) as reader:
        listed = {info.thread_id for info in reader.threads(limit=None)}
        assert not {source, renamed, imported} & listed
        assert not reader.exists(renamed) and not reader.exists(imported)
    with Memoria(db=db, context=Context(model="echo")) as writer:  # recovers as it opens
        assert writer.archive.pending() == {}
        assert [m.content for m in writer.transcript(renamed)][::2] == ["uno", "dos", "tres"]
        assert writer.state(renamed).turns == 3 and writer.thread_info(renamed).turns == 3
        assert not writer.exists(source) and writer.archive.thread(source) is None
        assert not writer.exists(imported) and writer.archive.read(imported) == []
        assert writer.send(renamed, "cuatro").content == "cuatro"


def test_an_operation_under_way_elsewhere_is_left_to_it(db):
    """Recovery takes the thread's lock without waiting: an import another process is writing
    right now is not undone under it."""
    target = new_id()
    with Memoria(db=db, context=Context(model="echo")) as first:
        first.archive.mark_pending(target, "import")
        with first._holding(target), Memoria(db=db, context=Context(model="echo")) as second:
            assert second.recover() == []
            assert target in second.archive.pending()
        assert first.recover() == [target]
