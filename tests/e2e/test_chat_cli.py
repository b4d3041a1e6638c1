"""`memoria chat` run as a user runs it: the installed command in a subprocess."""

from __future__ import annotations

from graph import Context
from graph.agent import Memoria


def test_chat_replies_and_a_second_process_resumes_the_thread(memoria, tmp_path):
    db = tmp_path / "chat.sqlite"
    first = memoria(
        "chat",
        "--model",
        "echo",
        "--db",
        str(db),
        "--thread",
        "juan",
        stdin="Hola, soy Juan\n/exit\n",
    )
    assert first.returncode == 0, first.stderr
    assert "Hola, soy Juan" in first.stdout
    assert "thread juan" in first.stderr and "memory hybrid" in first.stderr

    second = memoria(
        "chat", "--model", "echo", "--db", str(db), "--thread", "juan", stdin="¿Cómo me llamo?\n"
    )
    assert second.returncode == 0, second.stderr
    with Memoria(db=db, context=Context(model="echo")) as agent:
        state = agent.state("juan")
        assert state.turns == 2
        assert [m.content for m in agent.transcript("juan")] == [
            "Hola, soy Juan",
            "Hola, soy Juan",
            "¿Cómo me llamo?",
            "¿Cómo me llamo?",
        ]
    assert db.stat().st_mode & 0o077 == 0, "the database is readable by its owner only"


def test_chat_defaults_to_the_offline_local_model_without_a_key(memoria, tmp_path):
    result = memoria("chat", "--db", str(tmp_path / "local.sqlite"), stdin="Hello!\n")
    assert result.returncode == 0, result.stderr
    assert "No GROQ_API_KEY" in result.stderr and "model local" in result.stderr
    assert result.stdout.replace("you> ", "").strip(), "the local model answered"


def test_chat_rejects_a_bad_setting_with_one_line(memoria, tmp_path):
    result = memoria("chat", "--model", "nonsense", "--db", str(tmp_path / "x.sqlite"), stdin="")
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "unknown model spec" in result.stderr and "Traceback" not in result.stderr
