"""Provider and summary faults, injected through the Groq stub: each ends in a clear message and
leaves the thread exactly as it was before the turn."""

from __future__ import annotations

import pytest
from groq_stub import Fault, is_summary_request

from memoria import Context
from memoria.agent import Memoria
from memoria.errors import describe_error

THREAD = "t"


@pytest.fixture
def agent(groq, tmp_path):
    context = Context(memory="window", k=2, request_timeout=1.0)
    with Memoria(db=tmp_path / "faults.sqlite", context=context) as agent:
        agent.send(THREAD, "Me llamo Juan.")
        agent.send(THREAD, "Vivo en Bogotá.")
        yield agent


def snapshot(agent):
    state = agent.graph.get_state(agent.config(THREAD))
    return state.config, state.values, agent.transcript(THREAD)


def fails_cleanly(agent, groq, faults, *, stream=False):
    before = snapshot(agent)
    groq.faults.extend(faults)
    with pytest.raises(Exception) as caught:
        if stream:
            for _ in agent.stream(THREAD, "¿Dónde vivo?"):
                pass
        else:
            agent.send(THREAD, "¿Dónde vivo?")
    assert snapshot(agent) == before, "a failed turn must leave the thread as it was"
    agent.send(THREAD, "¿Dónde vivo?")  # and the user can simply retry
    assert agent.state(THREAD).turns == 3
    return describe_error(caught.value)


ERROR_JSON = '{"error": {"message": "%s", "type": "x"}}'


def test_rejected_key(agent, groq):
    message = fails_cleanly(agent, groq, [Fault(401, ERROR_JSON % "Invalid API Key")])
    assert message.startswith("the model provider rejected the API key (401)")


def test_rate_limit_is_retried_with_retry_after_then_reported(agent, groq):
    sent = len(groq.requests)
    limited = Fault(429, ERROR_JSON % "Rate limit reached", headers=(("retry-after", "0.2"),))
    message = fails_cleanly(agent, groq, [limited, limited, limited])
    assert message.startswith("the model provider is rate limiting (429)")
    assert len(groq.chat_requests()[sent:]) >= 3 + 1, "two retries, then the user's retry"


def test_one_rate_limit_is_absorbed_by_a_retry(agent, groq):
    groq.faults.append(Fault(429, ERROR_JSON % "slow down", headers=(("retry-after", "0.1"),)))
    assert agent.send(THREAD, "¿Sigues ahí?").content == "Respuesta a: ¿Sigues ahí?"


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors(agent, groq, status):
    message = fails_cleanly(agent, groq, [Fault(status)] * 3)
    assert message == f"the model provider failed ({status}): try again later"


def test_timeout(agent, groq):
    message = fails_cleanly(agent, groq, [Fault(200, body="", delay=1.5)] * 3)
    assert message == "the model did not answer in time: try again"


def test_malformed_json(agent, groq):
    message = fails_cleanly(agent, groq, [Fault(200, body="this is not json {")])
    assert message == "the model provider sent a malformed response: try again"


def test_stream_that_breaks_mid_reply(agent, groq):
    message = fails_cleanly(agent, groq, [Fault(200, body="", break_after=2)], stream=True)
    assert message == "the model's reply broke off before the end: try again"


@pytest.mark.parametrize(("status", "attempts"), [(500, 3), (401, 1)])
def test_a_failing_summary_model_loses_nothing_and_the_next_fold_retries(
    groq, tmp_path, status, attempts
):
    context = Context(
        memory="summary", summary_model="groq:llama-3.1-8b-instant", request_timeout=1.0
    )
    with Memoria(db=tmp_path / "s.sqlite", context=context) as agent:
        agent.send(THREAD, "Me llamo Juan.")
        groq.faults.extend([Fault(status, only=is_summary_request)] * attempts)
        reply = agent.send(THREAD, "Vivo en Bogotá.")
        assert reply.content == "Respuesta a: Vivo en Bogotá."
        state = agent.state(THREAD)
        assert state.summary.startswith("Me llamo Juan."), "folded with the extractive summary"
        assert state.summary_failures == 1
        assert str(status) in state.summary_error and state.report["summary_error"]
        assert state.messages[0].content == "Vivo en Bogotá."
        agent.send(THREAD, "Soy ingeniero.")
        state = agent.state(THREAD)
        assert state.summary_error == "" and state.summary_failures == 0
        merged = groq.summary_requests()[-1]["messages"][1]["content"]
        assert merged.startswith("Previous summary:\nMe llamo Juan."), "the model merges it"
        assert len(agent.transcript(THREAD)) == 6


def test_a_failed_turn_writes_no_checkpoint_at_all(tmp_path, monkeypatch):
    """LangGraph writes a run's last checkpoint even when the run failed; Memoria rolls such a
    turn back, so it is not written in the first place (a full disk then has less to undo)."""
    from fakes import FailingEcho
    from langgraph.checkpoint.sqlite import SqliteSaver

    written: list[str] = []
    real_put = SqliteSaver.put

    def counting_put(self, config, checkpoint, metadata, new_versions):
        written.append(checkpoint["id"])
        return real_put(self, config, checkpoint, metadata, new_versions)

    monkeypatch.setattr(SqliteSaver, "put", counting_put)
    model = FailingEcho()
    with Memoria(db=tmp_path / "f.sqlite", context=Context(model="echo"), model=model) as agent:
        agent.send("t", "antes")
        assert len(written) == 1
        model.fail = True
        with pytest.raises(ConnectionError):
            agent.send("t", "falla")
        assert len(written) == 1, "the failed turn wrote a checkpoint"
        model.fail = False
        agent.send("t", "después")
        assert len(written) == 2 and agent.state("t").turns == 2
