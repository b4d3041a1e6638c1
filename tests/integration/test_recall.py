"""Recall: earlier turns that have left the model's view come back when a message bears on them.

Every test runs on SQLite (FTS5, bm25) and on the machine's Postgres (tsvector, ts_rank_cd).
"""

from __future__ import annotations

import itertools
import re
import uuid

import pytest
from fakes import RecordingEcho

from memoria import Context, Memoria
from memoria.prompts import RECALL_HEADER

FILLER = [
    "Hoy hizo mucho calor en la oficina y el aire acondicionado no funcionaba bien.",
    "Estuve leyendo sobre la historia del ferrocarril en Europa durante el siglo diecinueve.",
    "La receta de la lasaña necesita tres capas de pasta, salsa bechamel y bastante queso.",
    "El partido de tenis del domingo se suspendió por la lluvia a mitad del segundo set.",
    "Mañana tengo que revisar el presupuesto trimestral con el equipo de contabilidad.",
    "Vimos un documental sobre ballenas jorobadas y sus rutas migratorias en el Pacífico.",
    "Quiero aprender a tocar la guitarra, pero no encuentro tiempo para practicar.",
    "El tráfico en la autopista estaba imposible por unas obras en el carril central.",
]


@pytest.fixture(params=["sqlite", "postgres"])
def db(request, tmp_path):
    if request.param == "sqlite":
        return str(tmp_path / "recall.sqlite")
    return request.getfixturevalue("own_postgres_url")


def agent_on(db, model=None, **settings):
    context = Context(model="echo", memory="hybrid", k=2, max_tokens=600, **settings)
    return Memoria(db=db, context=context, model=model or RecordingEcho())


def thread_id() -> str:
    return f"t{uuid.uuid4().hex[:8]}"


def converse(agent, thread, messages):
    for text in messages:
        agent.send(thread, text)


def fillers(count: int) -> list[str]:
    return [f"{FILLER[n % len(FILLER)]} (nota {n})" for n in range(count)]


def recalled_block(prompt) -> str:
    system = prompt[0].content
    return system.split(RECALL_HEADER, 1)[1] if RECALL_HEADER in system else ""


def test_a_folded_detail_comes_back_when_asked_about(db):
    model = RecordingEcho()
    thread = thread_id()
    with agent_on(db, model) as agent:
        converse(agent, thread, ["Mi perro se llama Toby y tiene cuatro años.", *fillers(20)])
        state = agent.state(thread)
        in_view = " ".join(str(m.content) for m in state.messages)
        assert "Toby" not in in_view and "Toby" not in state.summary, "folded out of the view"
        agent.send(thread, "¿Cómo se llamaban los perros de los que te hablé?")
        block = recalled_block(model.prompts[-1])
        assert "[turn 1 · " in block and "Mi perro se llama Toby" in block
        report = agent.state(thread).report["recall"]
        assert report["turns"][0]["turn"] == 1 and report["turns"][0]["score"] > 0
        assert report["tokens"] <= agent.context.recall_budget


def test_recall_never_repeats_a_turn_that_is_still_in_view(db):
    model = RecordingEcho()
    thread = thread_id()
    with agent_on(db, model) as agent:
        converse(agent, thread, ["Mi gata se llama Luna.", *fillers(20), "Mi gata Luna duerme."])
        agent.send(thread, "¿Qué hace mi gata?")
        block = recalled_block(model.prompts[-1])
        turns = [int(n) for n in re.findall(r"\[turn (\d+) ·", block)]
        first_in_view = agent.state(thread).turns - len(agent.state(thread).messages) // 2 + 1
        assert 1 in turns, "the folded turn about the cat is recalled"
        assert all(turn < first_in_view for turn in turns), "nothing in view is recalled again"
        assert "Mi gata Luna duerme." not in block


def test_excerpts_respect_the_budget_and_come_in_conversation_order(db):
    model = RecordingEcho()
    thread = thread_id()
    long_turn = (
        " ".join(FILLER)
        + " Por cierto, mi bicicleta roja la compré en Medellín. "
        + (" ".join(reversed(FILLER)))
    )
    with agent_on(db, model, recall_tokens=120, recall_turns=3) as agent:
        converse(
            agent,
            thread,
            [
                "Mi bicicleta es de montaña.",
                long_turn,
                *fillers(6),
                "Llevé la bicicleta al taller.",
                *fillers(20),
            ],
        )
        agent.send(thread, "¿De qué color es mi bicicleta y dónde la compré?")
        recalled = agent.state(thread).recalled
        assert 1 <= len(recalled) <= 3
        assert sum(item["tokens"] for item in recalled) <= 120
        assert [item["turn"] for item in recalled] == sorted(item["turn"] for item in recalled)
        texts = " ".join(item["text"] for item in recalled)
        assert "bicicleta roja la compré en Medellín" in texts  # the matching sentence survives
        assert len(texts) < len(long_turn)  # the long turn was cut to what matters


def test_a_later_turn_that_contradicts_an_earlier_one_is_shown_as_the_current_one(db):
    model = RecordingEcho()
    thread = thread_id()
    with agent_on(db, model) as agent:
        converse(
            agent,
            thread,
            [
                "Vivo en Bogotá desde hace diez años.",
                *fillers(12),
                "Ya no vivo en Bogotá: me mudé a Lima el mes pasado.",
                *fillers(16),
            ],
        )
        agent.send(thread, "¿En qué ciudad vivo?")
        block = recalled_block(model.prompts[-1])
        system = model.prompts[-1][0].content
        old, new = block.find("Vivo en Bogotá desde"), block.find("me mudé a Lima")
        assert old != -1 and new != -1, "both the old and the new statement are recalled"
        assert old < new, "in conversation order: the newer statement comes last"
        assert "the later turn is the current one" in system
        turns = [int(n) for n in re.findall(r"\[turn (\d+) · \d{4}-\d\d-\d\d\]", block)]
        assert turns == sorted(turns) and turns[0] == 1 and 14 in turns


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"recall_tokens": 0}, False),
        ({"recall_turns": 0}, False),
        ({"memory": "buffer"}, False),
        ({"memory": "window"}, False),
        ({"memory": "summary-buffer"}, True),
        ({"memory": "summary"}, True),
    ],
)
def test_recall_is_off_when_asked_and_by_default_for_buffer_and_window(db, settings, expected):
    model = RecordingEcho()
    thread = thread_id()
    base = {"model": "echo", "k": 2, "max_tokens": 600, "memory": "hybrid", **settings}
    with Memoria(db=db, context=Context(**base), model=model) as agent:
        converse(agent, thread, ["Mi perro se llama Toby.", *fillers(20)])
        agent.send(thread, "¿Cómo se llama mi perro?")
        assert bool(agent.state(thread).recalled) is expected
        assert (RECALL_HEADER in model.prompts[-1][0].content) is expected


def test_accents_inflections_and_stop_words_in_both_languages(db):
    thread_es, thread_en = thread_id(), thread_id()
    with agent_on(db) as agent:
        converse(agent, thread_es, ["Los perros de mi vecina ladran en Bogotá.", *fillers(3)])
        converse(
            agent,
            thread_en,
            ["My daughters moved to three different cities.", "The weather was awful today."],
        )

        def found(query: str) -> list[str]:
            ours = {thread_es, thread_en}
            return [h.thread_id for h in agent.search(query) if h.thread_id in ours]

        assert found("bogota perro") == [thread_es]  # no accent, singular
        assert found("a city where my daughter is moving") == [thread_en]
        assert found("de la que el en y") == []  # stop words alone match nothing
        assert found("the of and to") == []


def test_the_search_command_api_only_shows_committed_turns_of_one_or_all_threads(db):
    first, second = thread_id(), thread_id()
    with agent_on(db) as agent:
        converse(agent, first, ["El volcán Cotopaxi está en Ecuador."])
        converse(agent, second, ["Subimos al Cotopaxi en enero.", "Hacía frío en la cumbre."])
        hits = agent.search("cotopaxi")
        assert {h.thread_id for h in hits} == {first, second}
        assert [(h.thread_id, h.turn) for h in agent.search("cotopaxi", thread_id=second)] == [
            (second, 0)
        ]
        # An archived turn whose checkpoint was never saved (a process killed in between).
        agent.archive.archive(
            second,
            agent.turns(second)[0].__class__(2, agent.turns(second)[0].messages),
            "es",
        )
        assert [(h.thread_id, h.turn) for h in agent.search("cotopaxi", thread_id=second)] == [
            (second, 0)
        ]


def test_a_preview_of_recall_and_of_the_next_prompt_changes_nothing(db):
    model = RecordingEcho()
    thread = thread_id()
    with agent_on(db, model) as agent:
        converse(agent, thread, ["Mi perro se llama Toby.", *fillers(20)])
        before = agent.graph.get_state(agent.config(thread))
        preview = agent.recall(thread, "¿Cómo se llama mi perro?")
        prompt = agent.next_prompt(thread, "¿Cómo se llama mi perro?")
        assert [r.turn for r in preview] == [0] and "Toby" in preview[0].text
        after = agent.graph.get_state(agent.config(thread))
        assert (after.config, after.values) == (before.config, before.values)
        agent.send(thread, "¿Cómo se llama mi perro?")
        sent = [(m.type, m.content) for m in model.prompts[-1]]
        assert sent == [(m.type, m.content) for m in prompt], "the preview is what the model got"


RANKING_CASES = [
    pytest.param(
        ["Mi perro Toby come mucho.", "Mi perro duerme en el sofá.", "El gato maúlla."],
        "¿Qué come Toby, mi perro?",
        [0, 1],
        id="more-query-words-first",
    ),
    pytest.param(
        [
            "Vimos un perro en el parque esta mañana soleada.",
            "Perros, perros y más perros: el parque estaba lleno de perros.",
        ],
        "perros en el parque",
        [1, 0],
        id="more-occurrences-first",
    ),
    pytest.param(
        [
            "El perro del vecino, que siempre ladra cuando pasan los camiones de la basura por "
            "la calle principal del barrio antes del amanecer, otra vez.",
            "Ese perro ladra.",
        ],
        "el perro ladra",
        [1, 0],
        id="shorter-turn-first",
    ),
    pytest.param(
        ["My sister moved to Lisbon.", "I visited Lisbon in May.", "Coffee is great."],
        "Where did my sister move?",
        [0],
        id="english-stemming",
    ),
]


@pytest.mark.parametrize(("turns", "query", "expected"), RANKING_CASES)
def test_both_engines_rank_the_same_cases_in_the_same_order(db, turns, query, expected):
    from langchain_core.messages import HumanMessage

    from memoria.analysis import analyzer, detect_language
    from memoria.transcript import ArchivedTurn

    thread = thread_id()
    language = detect_language(" ".join(turns)) or "en"
    with agent_on(db) as agent:
        for number, text in enumerate(turns):
            agent.archive.archive(thread, ArchivedTurn(number, [HumanMessage(text)]), language)
        terms = analyzer(language).query_terms(query)
        hits = agent.archive.search(thread, terms, before=len(turns), limit=10)
        assert [hit.turn for hit in hits] == expected
        assert all(a.score >= b.score for a, b in itertools.pairwise(hits))


def test_the_sqlite_turn_count_behind_common_terms_stays_exact_across_writers(tmp_path):
    """The count of archived turns (how common a term is depends on it) is carried forward across
    this process's turns instead of summed every turn, and counted again after any other write:
    a delete, a fork, another connection's turns."""
    path = str(tmp_path / "count.sqlite")

    def summed(agent) -> int:
        return agent.archive.dialect.conn.execute(
            "SELECT sum(turns) FROM memoria_threads"
        ).fetchone()[0]

    with agent_on(path) as agent, agent_on(path) as other:
        converse(agent, "a", fillers(4))
        assert agent.archive.dialect._turn_total() == summed(agent) == 4
        converse(agent, "a", fillers(2))
        converse(agent, "b", fillers(3))
        assert agent.archive.dialect._turn_total() == summed(agent) == 9
        converse(other, "c", fillers(5))  # another connection: its commits change data_version
        assert agent.archive.dialect._turn_total() == summed(agent) == 14
        converse(agent, "a", ["y esta sí llega"])
        assert agent.archive.dialect._turn_total() == summed(agent) == 15
        agent.delete_thread("c")
        assert agent.archive.dialect._turn_total() == summed(agent) == 10
        converse(other, "c", fillers(4))
        assert agent.archive.dialect._turn_total() == summed(agent) == 14
        agent.fork_thread("b", at=2, new="b2")
        assert agent.archive.dialect._turn_total() == summed(agent) == 16
        agent.delete_thread("a")
        assert agent.archive.dialect._turn_total() == summed(agent) == 9
        converse(agent, "b", fillers(1))
        assert agent.archive.dialect._turn_total() == summed(agent) == 10


@pytest.mark.parametrize("size", [20_000, 30_000])
def test_a_search_with_thousands_of_terms_answers_on_both_backends(db, size):
    """Postgres refused 20,000 terms ("invalid memory alloc request size") and 30,000 ("stack
    depth limit exceeded"); both engines now look for the query's first 64 terms."""
    from memoria.analysis import MAX_SEARCH_TERMS

    thread = thread_id()
    with agent_on(db) as agent:
        converse(agent, thread, ["Mi perro se llama Toby.", *fillers(3)])
        query = "perro " + " ".join(f"zq{n}x" for n in range(size))
        hits = agent.search(query, thread_id=thread)
        assert [hit.turn for hit in hits] == [0]
        late = " ".join(f"zq{n}x" for n in range(MAX_SEARCH_TERMS)) + " perro"
        assert agent.search(late, thread_id=thread) == [], "terms past the cap are not searched"
