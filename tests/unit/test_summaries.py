"""Summaries that do no harm: what counts as a failed summary, and which summariser runs."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from memoria.context import Context
from memoria.models import EchoChatModel
from memoria.parts import Parts
from memoria.prompts import summariser_messages
from memoria.summaries import (
    ExtractiveSummariser,
    ModelSummariser,
    SummaryError,
    check_summary,
)

FOLDED = [
    HumanMessage("Hola, necesito asesoría para conectarme a la red wifi desde el PC"),
    AIMessage("Abre la configuración de red del PC y elige tu red wifi."),
    HumanMessage("¿Qué equipos llegaron a la final del mundial de México en 1986?"),
    AIMessage("Argentina y Alemania Federal jugaron la final de 1986."),
]


def test_a_real_summary_passes():
    check_summary(
        "El usuario pidió ayuda con la red wifi del PC y preguntó por la final de 1986 "
        "(Argentina contra Alemania Federal).",
        "",
        FOLDED,
    )


def test_the_summariser_prompt_echoed_back_is_refused():
    # What SmolLM2 wrote in place of the Wi-Fi and 1986 turns.
    echoed = "(None yet) New turns: User: Hola, necesito asesoría para conectarme a la red wifi"
    with pytest.raises(SummaryError, match="repeats the summariser's prompt"):
        check_summary(echoed, "", FOLDED)


def test_the_instructions_repeated_are_refused():
    instructions = summariser_messages("", FOLDED, max_words=50)[0].content
    with pytest.raises(SummaryError, match="instructions"):
        check_summary(instructions.splitlines()[2], "", FOLDED)


def test_a_summary_that_shares_almost_nothing_with_the_turns_is_refused():
    unrelated = "Las ballenas jorobadas migran cada invierno hacia aguas tropicales cálidas."
    with pytest.raises(SummaryError, match="shares almost nothing"):
        check_summary(unrelated, "", FOLDED)


def test_an_empty_summary_is_refused():
    with pytest.raises(SummaryError, match="empty"):
        check_summary("   ", "", FOLDED)


def test_the_previous_summary_counts_as_source():
    previous = "El usuario se llama Juan y vive en Bogotá."
    check_summary("Juan vive en Bogotá; preguntó por el wifi y la final de 1986.", previous, FOLDED)


@pytest.mark.parametrize("model", ["local", "echo"])
def test_offline_chat_models_get_the_extractive_summariser(model):
    assert isinstance(Parts().summariser_for(Context(model=model)), ExtractiveSummariser)
    assert isinstance(
        Parts(chat=EchoChatModel()).summariser_for(Context(model="groq:x")), ExtractiveSummariser
    )


def test_a_named_summary_model_is_used_even_with_the_local_chat_model():
    summariser = Parts().summariser_for(Context(model="local", summary_model="echo"))
    assert isinstance(summariser, ModelSummariser)
    assert isinstance(summariser.model, EchoChatModel)


def test_the_extractive_summariser_is_capped_and_cumulative():
    summary = ExtractiveSummariser().summarise(
        "Juan vive en Bogotá.", FOLDED, 30, lambda text: len(text) // 4
    )
    assert summary.splitlines()[0].startswith("Juan vive")  # the old summary is merged first
    assert len(summary) // 4 <= 30
