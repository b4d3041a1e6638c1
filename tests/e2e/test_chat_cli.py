"""`memoria chat` and `memoria ask` run as a user runs them: the installed command, a real terminal."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pexpect
from groq_stub import Fault, GroqStub
from processes import MEMORIA, PROMPT, SLOW_MEMORIA, spawn_chat, user_env

from memoria import Context
from memoria.agent import Memoria

LONG_MESSAGE = " ".join(f"palabra{n}" for n in range(60))


def until_prompt(child: pexpect.spawn) -> str:
    child.expect_exact(PROMPT)
    return child.before


def test_interactive_chat_session_with_commands_interrupt_and_resume(tmp_path):
    db = str(tmp_path / "chat.sqlite")
    child, _ = spawn_chat(
        tmp_path,
        "--model",
        "echo:0.05",
        "--memory",
        "window",
        "-k",
        "1",
        "-v",
        "--db",
        db,
        "--thread",
        "demo",
        program=SLOW_MEMORIA,
    )
    child.expect_exact("thread demo (new)")
    until_prompt(child)

    child.sendline("Hola, soy Juan")
    output = until_prompt(child)
    assert "memoria> Hola, soy Juan" in output
    assert "[memory window]" in output and "1 turn in all" in output

    child.sendline("Quiero hacer una consulta sobre la historia reciente de Colombia")
    output = until_prompt(child)
    assert "trimmed" not in output  # k=1: the first turn is still the one completed turn

    child.sendline("/summary")
    assert "the window preset keeps no summary" in until_prompt(child)
    child.sendline("/context")
    context = until_prompt(child)
    assert "system: You are Memoria" in context
    assert "user: Quiero hacer una consulta" in context and "Hola, soy Juan" not in context

    child.sendline(LONG_MESSAGE)
    child.expect_exact("palabra3 ")  # the reply is streaming...
    child.sendintr()  # ...and Ctrl-C stops it
    child.expect_exact("[interrupted: that turn was not saved; the thread is as it was]")
    until_prompt(child)

    child.sendline("/history")
    history = until_prompt(child)
    assert history.count("user: ") == 2 and "palabra" not in history

    child.sendline("/threads")
    assert re.search(r"demo\s+2\s", until_prompt(child))
    child.sendline("/help")
    assert "/context" in until_prompt(child)
    child.sendline("/new")
    child.expect(r"new thread [a-z]+-[a-z]+-[0-9a-f]{4}")
    until_prompt(child)
    child.sendeof()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0

    resumed, _ = spawn_chat(tmp_path, "-c", "--model", "echo", "--db", db)
    resumed.expect_exact("thread demo (resumed)")
    until_prompt(resumed)
    resumed.sendline("/history")
    assert "user: Hola, soy Juan" in until_prompt(resumed)
    resumed.sendline("/exit")
    resumed.expect(pexpect.EOF)
    resumed.close()
    assert resumed.exitstatus == 0


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
    assert first.stdout == "Hola, soy Juan\n"  # plain text when stdout is not a terminal
    assert "thread juan" in first.stderr and "memory hybrid" in first.stderr

    second = memoria(
        "chat", "--model", "echo", "--db", str(db), "--thread", "juan", stdin="¿Cómo me llamo?\n"
    )
    assert second.returncode == 0, second.stderr
    with Memoria(db=db, context=Context(model="echo")) as agent:
        assert agent.state("juan").turns == 2
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
    assert "no GROQ_API_KEY" in result.stderr and "model local" in result.stderr
    assert result.stdout.strip(), "the local model answered"


def test_ask_prints_the_reply_alone_and_continues_threads(memoria, tmp_path):
    db = str(tmp_path / "ask.sqlite")
    first = memoria("ask", "Hola, soy Juan", "--model", "echo", "--db", db, "--thread", "s")
    assert (first.returncode, first.stdout) == (0, "Hola, soy Juan\n")
    assert "memoria: thread s" in first.stderr

    piped = memoria("ask", "-", "--model", "echo", "--db", db, "-c", stdin="¿Y ahora?\n")
    assert piped.stdout == "¿Y ahora?\n\n"
    as_json = json.loads(
        memoria("ask", "tercera", "--model", "echo", "--db", db, "-c", "--json").stdout
    )
    assert as_json["thread_id"] == "s" and as_json["reply"] == "tercera"
    assert as_json["usage"]["input_tokens"] > 0 and as_json["memory"] == "hybrid"
    shown = memoria("threads", "show", "s", "--db", db).stdout
    assert shown.count("user: ") == 3

    verbose = memoria(
        "ask", "cuarta", "--model", "echo", "--db", db, "-c", "-v", "--memory", "window", "-k", "1"
    )
    assert verbose.stdout == "cuarta\n"
    assert "trimmed 2 turn(s)" in verbose.stderr


def test_bad_input_is_one_line_and_a_non_zero_exit(memoria, tmp_path):
    db = str(tmp_path / "bad.sqlite")
    cases = [
        (("ask", "   ", "--model", "echo"), "", "empty message"),
        (("ask", "-", "--model", "echo"), "", "empty message"),
        (("ask", "hola", "--model", "nonsense"), "", "unknown model spec"),
        (("ask", "hola", "--model", "groq:llama-3.3-70b-versatile"), "", "needs GROQ_API_KEY"),
        (("ask", "hola", "--model", "echo", "--thread", "a/../b"), "", "invalid thread id"),
        (("ask", "hola", "--model", "echo", "-c"), "", "no thread to continue"),
        (
            ("ask", "hola", "--model", "echo", "-c", "--thread", "x"),
            "",
            "either --thread or --continue",
        ),
        (("chat", "--model", "echo", "--memory", "forever"), "", "Invalid value for '--memory'"),
    ]
    for args, stdin, message in cases:
        result = memoria(*args, "--db", db, stdin=stdin)
        assert result.returncode != 0, args
        assert message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
        if "Invalid value" not in message:
            assert result.stderr.strip().count("\n") == 0, result.stderr
    assert not Path(db).exists(), "none of these creates the database (`ask -c` included)"


def test_invalid_utf8_on_stdin(tmp_path):
    import subprocess

    result = subprocess.run(
        [MEMORIA, "ask", "-", "--model", "echo", "--db", str(tmp_path / "u.sqlite")],
        input=b"hola \xff\xfe",
        capture_output=True,
        env=user_env(tmp_path),
    )
    assert result.returncode == 1
    assert result.stderr.decode() == "memoria: stdin is not valid UTF-8 (byte 5)\n"


def test_groq_by_default_with_a_key_and_a_clear_error_on_a_rejected_key(memoria, tmp_path):
    db = str(tmp_path / "g.sqlite")
    with GroqStub() as stub:
        env = {"GROQ_API_KEY": "gsk_test_0123456789abcdef", "GROQ_API_BASE": stub.base_url}
        ok = memoria("ask", "Hola", "--db", db, "--thread", "g", env=env)
        assert ok.returncode == 0, ok.stderr
        assert ok.stdout == "Respuesta a: Hola\n"
        assert "no GROQ_API_KEY" not in ok.stderr
        assert stub.requests[-1]["model"] == "llama-3.3-70b-versatile"

        stub.faults.append(Fault(status=401, body='{"error": {"message": "Invalid API Key"}}'))
        rejected = memoria("ask", "¿Sigues ahí?", "--db", db, "--thread", "g", env=env)
        assert rejected.returncode == 1
        assert rejected.stderr.strip().endswith(
            "the model provider rejected the API key (401): check GROQ_API_KEY or your provider's key"
        )
    with Memoria(db=db, context=Context(model="echo")) as agent:
        assert agent.state("g").turns == 1 and len(agent.transcript("g")) == 2


def test_system_prompt_and_token_limit_options_reach_the_model(memoria, tmp_path):
    db = str(tmp_path / "opts.sqlite")
    with GroqStub() as stub:
        env = {"GROQ_API_KEY": "gsk_test_0123456789abcdef", "GROQ_API_BASE": stub.base_url}
        options = (
            "--system",
            "Eres un pirata.",
            "--memory",
            "summary-buffer",
            "--max-tokens",
            "120",
            "--recall-tokens",
            "0",
        )
        for n in range(4):
            result = memoria(
                "ask",
                f"Pregunta {n}: " + "palabra " * 20,
                *options,
                "--db",
                db,
                "--thread",
                "p",
                env=env,
            )
            assert result.returncode == 0, result.stderr
        system = stub.chat_requests()[-1]["messages"][0]["content"]
        assert system.startswith("Eres un pirata.")
        assert stub.summary_requests(), "a 120-token limit forces the older turns into a summary"
        assert "Resumen:" in system


def test_a_dotenv_file_in_the_current_directory_is_read_and_named(memoria, tmp_path):
    with GroqStub() as stub:
        (tmp_path / ".env").write_text(
            f"GROQ_API_KEY=gsk_from_dotenv_0123456789\nGROQ_API_BASE={stub.base_url}\n"
        )
        result = memoria("ask", "Hola", "--db", str(tmp_path / "env.sqlite"), "-v")
        assert result.returncode == 0, result.stderr
        assert result.stdout == "Respuesta a: Hola\n", "the key from .env chose Groq"
        assert f"memoria: .env: {tmp_path / '.env'}" in result.stderr
        assert stub.headers[-1]["Authorization"] == "Bearer gsk_from_dotenv_0123456789"
    assert "gsk_from_dotenv" not in result.stderr


def test_a_dotenv_file_that_others_can_write_or_that_is_not_utf8_is_not_loaded(memoria, tmp_path):
    """It could set the system prompt, the database or where the API key is sent: a `.env` others
    can write is not read; nor one that is not UTF-8 (a traceback on every command before)."""
    dotenv = tmp_path / ".env"
    db = str(tmp_path / "env.sqlite")

    def memory_used() -> tuple[str, str]:
        result = memoria("ask", "hola", "--model", "echo", "--json", "--db", db)
        assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
        return json.loads(result.stdout)["memory"], result.stderr

    dotenv.write_text("MEMORIA_MEMORY=window\n")
    dotenv.chmod(0o600)
    assert memory_used()[0] == "window", "an owner-only .env is read"
    dotenv.chmod(0o666)
    memory, stderr = memory_used()
    assert memory == "hybrid" and f"memoria: not loading {dotenv}: others can write it\n" in stderr
    dotenv.write_bytes(b"MEMORIA_MEMORY=window\nNOTE=caf\xe9\n")
    dotenv.chmod(0o600)
    memory, stderr = memory_used()
    assert memory == "hybrid"
    assert f"memoria: not loading {dotenv}: not valid UTF-8 (byte 30)\n" in stderr
