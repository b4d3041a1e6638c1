"""Tool-using agent benchmark: `python -m bench.agent` (or `make bench-agent`).

One scripted, tool-using conversation is driven turn by turn, in one process, through four agents,
and each is measured against the others in the same run (ratios, since absolute times drift on a
shared machine).

The workload (seeded, the same text for every system): `--turns` ordinary turns (default 1,000),
then two questions per planted fact. Ordinary turns are chat messages of three to five sentences
about everyday things, answered directly, and, about one turn in three, a request for one of two
real tools (`weather(city)` or `convert(amount, currency)`, each returning 300-370 characters): the
model answers it with a tool call, then, once it has the result, with a short answer. In the
chat messages of the first 10% of the turns, 20 facts are planted, each in passing (never as a
message's first sentence, the part of a message the extractive summary keeps; placed first, they
still fall out of the 300-token summary long before the questions) and each carrying a token found
nowhere else in the conversation ("QX-4821", "Valparaíso", "Heliotrope", ...). After the last
ordinary turn, each fact is asked for twice, in two kinds of question asked apart. A direct
question shares words with its fact ("Which football team do I support?" for "The football team I
support is Rosenborg."), so that one full-text search of the question, Memoria's automatic recall,
can find it. A reworded question shares none ("Whose matches do I cheer for on Saturdays?"):
`make_workload` checks, with Memoria's own text analysis (`analyzer("en").query_terms`), that no
term of the question occurs in the message the fact was planted in, so the automatic recall cannot
find that turn. On either kind, a model that has the `search_conversation` tool bound first calls
it with the fact's own keywords ("football team support": like a capable model, it knows what it
is looking for), then answers; a model without it answers at once. The direct questions are asked
of the system itself, one after the other; the reworded ones of a copy of it made after the last
ordinary turn (the Memoria database(s) copied whole; for `create_agent`, the thread's latest
checkpoint), one after the other, so that neither kind finds its facts in the other kind's
questions, searches and answers.

The model (`ScriptedChatModel`) is a deterministic, instant `BaseChatModel` that looks the turn's
human message up in the script: its tool calls depend only on that message and on the tools bound,
never on the memory in front of it, so every system gets the same conversation (only its answer
to a question says whether it saw the fact). It reports `usage_metadata` with Memoria's uncalibrated token
estimate of the prompt (characters / 4 plus a per-message overhead), so Memoria's calibration
stays at 1. The summariser is the same for every system: Memoria's deterministic, extractive
`ExtractiveSummariser` with a cap of 300 tokens (the first sentence of each message, trimmed to
the cap), so that the comparison is about the memory design, not about summary quality.

The systems:

- `memoria`: Memoria's own graph with the two tools, `Memoria(db=..., model=..., tools=...,
  summary_model=...)` on SQLite, `hybrid` memory (k = 5, max_tokens = 2,000, of which 800 are for
  recalled excerpts), one turn = `agent.send(thread, text)`. Checkpoints and transcript share one
  file; the thread keeps only its latest checkpoint.
- `create_agent + MemoriaMiddleware`: LangChain's `create_agent` with `MemoriaMiddleware` (the
  same memory settings, transcript in a Memoria database file of its own) and a `SqliteSaver`.
- `create_agent + SummarizationMiddleware`: `create_agent` with LangChain's
  `SummarizationMiddleware` (summarises at 2,000 tokens, keeps the last 20 messages) and a
  `SqliteSaver`.
- `create_agent (no memory)`: `create_agent` and a `SqliteSaver`, nothing else: every message is
  kept, so the prompt and the checkpoint grow with the thread (quadratic time and storage).

Each system stops after `--budget` seconds of ordinary turns (default 120: on a 2-core machine the
plain agent needs about 70 s for 1,000 turns, the others 8-15 s); a stopped one is asked its
questions where it stopped.

The `create_agent` systems run with LangGraph's default durability (a checkpoint per step);
`Memoria.send` writes one per turn (`durability="exit"`) and prunes the older ones.

Metrics per system: prompt tokens per model call (every prompt the chat model receives, counted
with one counter, `TokenCounter(None).prompt`; summaries are not model calls here); the size of
the thread's latest checkpoint (serialised as its saver stores it) and of the database file(s)
on disk (file plus WAL after `PRAGMA wal_checkpoint(TRUNCATE)`, the transcript database
included) after turn 100 and after the last ordinary turn; the time a turn takes, which with an
instant model is the framework's and the memory's own cost (around turns 10, 100 and 1,000, the
median of the chat turns and of the tool turns among the 21 turns there, the last 21 for the last
mark); and how many planted facts are still put in front of the model when asked for (the fact's
token anywhere in a prompt: system message, messages, tool results), for each kind of question in
two columns: in the prompt of the question turn's first model call (what the memory view,
automatic recall included, brings before the model does anything), and in any prompt of the turn,
so by the end of it (after the model's own `search_conversation` calls, whose number is reported
too). A reworded question's fact can still be in view at its first call when an earlier
question's search brought the fact's turn back (the search for "favourite dish" also finds "My
favourite author is ...") and that earlier question turn is still in view, recent or recalled
(with `--turns 200`, one fact is in view this way; with the default 1,000 turns, none is: the
turn that found it has been folded out of the view by then). Prompt tokens count the ordinary
turns and the direct questions, not the copy's reworded ones. Results go to stdout as Markdown and
to `--out`/agent.json.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sqlite3
import statistics
import tempfile
import time
import zlib
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from langchain.agents import create_agent
from langchain.agents.middleware.summarization import SummarizationMiddleware
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool, tool
from langgraph.checkpoint.sqlite import SqliteSaver
from pydantic import PrivateAttr

from bench.systems import sqlite_size
from memoria.agent import Memoria
from memoria.analysis import analyzer
from memoria.context import Context
from memoria.memory_tool import MEMORY_TOOL_NAME
from memoria.middleware import MemoriaMiddleware
from memoria.prompts import SYSTEM_PROMPT
from memoria.summaries import ExtractiveSummariser
from memoria.tokens import TokenCounter, message_text

THREAD = "bench-agent"
SEED = 42
MARKS = (10, 100, 1000)
SIZE_MARK = 100
WINDOW = 10
"""Times are medians over the turns mark-10 .. mark+10 (the last 21 for the last mark), of the chat
turns and of the tool turns apart: their mix varies from window to window, and a tool turn is
three model-and-tool steps where a chat turn is one."""
PLANT_SHARE = 0.1
TOOL_SHARE = 1 / 3
MEMORY = {"memory": "hybrid", "k": 5, "max_tokens": 2000}
SUMMARY_CAP = 300  # Memoria's default summary cap, and its effective cap with these settings
TRIGGER = ("tokens", 2000)
# Kept messages rather than tokens: 20 messages (LangChain's default) are 7-8 turns of this
# workload, 900-1,100 tokens, so with the 300-token summary a summarised prompt starts again at
# 1,200-1,400 tokens, Memoria's low mark (1,400, where Memoria reserves 800 of them for recalled
# excerpts and so keeps fewer recent turns, at most k = 5). The anchor keeps more recent turns
# verbatim than Memoria does: it is not handicapped by keeping too little.
KEEP = ("messages", 20)
COUNTER = TokenCounter(None)
"""The one counter for every prompt and summary: Memoria's estimate, uncalibrated."""
SUMMARISER = ExtractiveSummariser()
SUMMARY_PREFIX = "Here is a summary of the conversation to date:\n\n"
"""How SummarizationMiddleware introduces the summary it keeps as the first message."""


# The workload


@dataclass(frozen=True)
class Fact:
    statement: str
    """The sentence planted in a chat message."""
    question: str
    """The direct question: it shares words with the fact."""
    reworded: str
    """The same question in other words: none of its analysed terms occurs in the message the
    fact was planted in (checked by `check_reworded`)."""
    query: str
    """The words the model searches for (`search_conversation`)."""
    value: str
    """The token that appears nowhere else in the conversation: in view or not."""


FACTS = (
    Fact(
        "My locker number at the climbing gym is QX-4821.",
        "What was my locker number at the climbing gym?",
        "What is the combination for where I stash my bag when bouldering?",
        "locker number climbing gym",
        "QX-4821",
    ),
    Fact(
        "My sister Ana moved to Valparaíso last spring.",
        "Where does my sister Ana live now?",
        "In which Chilean city has my sibling settled?",
        "sister Ana moved",
        "Valparaíso",
    ),
    Fact(
        "Our dog is called Bartolomeo.",
        "What is our dog called?",
        "What did we christen our pooch?",
        "dog called",
        "Bartolomeo",
    ),
    Fact(
        "The wifi password at the cabin is mango-tornado-88.",
        "What is the wifi password at the cabin?",
        "What's the secret for getting online at our mountain hut?",
        "wifi password cabin",
        "mango-tornado-88",
    ),
    Fact(
        "I was born in Tromsø.",
        "Where was I born?",
        "Which town am I originally from?",
        "born",
        "Tromsø",
    ),
    Fact(
        "My favourite dish is pastel de choclo.",
        "What is my favourite dish?",
        "Which meal do I like eating above everything else?",
        "favourite dish",
        "pastel de choclo",
    ),
    Fact(
        "My car is an old green Škoda Felicia.",
        "What car do I have?",
        "What vehicle do I drive around in?",
        "car",
        "Felicia",
    ),
    Fact(
        "My dentist is Dr. Okonkwo on Fleet Street.",
        "Who is my dentist?",
        "Who looks after my teeth?",
        "dentist",
        "Okonkwo",
    ),
    Fact(
        "The code of my bike lock is 7-3-9-1.",
        "What is the code of my bike lock?",
        "What combination opens the chain on my bicycle?",
        "bike lock code",
        "7-3-9-1",
    ),
    Fact(
        "My new manager is called Ingrid Halvorsen.",
        "What is my new manager called?",
        "Who is my boss these days?",
        "manager called",
        "Halvorsen",
    ),
    Fact(
        "I have started learning an instrument, the bandoneón.",
        "Which instrument am I learning?",
        "What am I practising on these days, musically?",
        "learning instrument",
        "bandoneón",
    ),
    Fact(
        "My neighbour's cat is named Pimienta.",
        "What is my neighbour's cat named?",
        "What is the kitty next door known as?",
        "neighbour cat named",
        "Pimienta",
    ),
    Fact(
        "Our wedding anniversary is on 19 March.",
        "When is our wedding anniversary?",
        "On what date did my spouse and I get married?",
        "wedding anniversary",
        "19 March",
    ),
    Fact(
        "My favourite author is Clarice Lispector.",
        "Who is my favourite author?",
        "Whose novels do I love most?",
        "favourite author",
        "Lispector",
    ),
    Fact(
        "My blood type is AB negative.",
        "What is my blood type?",
        "What should a hospital know before giving me a transfusion?",
        "blood type",
        "AB negative",
    ),
    Fact(
        "The codename of my project at work is Heliotrope.",
        "What is the codename of my project at work?",
        "What's the internal label for what I'm building for my employer?",
        "codename project",
        "Heliotrope",
    ),
    Fact(
        "My landlord is Mr. Fitzgerald-Ruiz.",
        "Who is my landlord?",
        "Whom do I pay rent to?",
        "landlord",
        "Fitzgerald-Ruiz",
    ),
    Fact(
        "My daughter's school is Colegio San Anselmo.",
        "Which school does my daughter go to?",
        "Where does my child get her education?",
        "daughter school",
        "San Anselmo",
    ),
    Fact(
        "The football team I support is Rosenborg.",
        "Which football team do I support?",
        "Whose matches do I cheer for on Saturdays?",
        "football team support",
        "Rosenborg",
    ),
    Fact(
        "I am allergic to hazelnuts.",
        "What am I allergic to?",
        "Which food makes me ill?",
        "allergic",
        "hazelnuts",
    ),
)

SUBJECTS = (
    "the garden",
    "my commute",
    "the new café on the corner",
    "the budget meeting",
    "our book club",
    "the train strike",
    "the kitchen tap",
    "my running plan",
    "the quarterly report",
    "the museum visit",
    "the street party",
    "a history podcast",
    "my expenses spreadsheet",
    "the lentil soup recipe",
    "the roof repair",
    "the holiday photos",
    "the tax forms",
    "the chess tournament",
    "the moving boxes",
    "the printer at the office",
    "my sleep schedule",
    "the film festival",
    "the recycling rules",
    "the choir rehearsal",
    "the job interview",
    "the language exchange",
    "the old laptop",
    "the gym timetable",
    "the camping trip",
    "the board game night",
)
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "the weekend", "tonight")
ADJECTIVES = ("strange", "useful", "tiring", "funny", "surprising", "calming", "frustrating")
SENTENCES = (
    "I spent most of {day} thinking about {subject}.",
    "Honestly, {subject} took longer than I expected.",
    "Do you think {subject} can wait until {day}?",
    "Someone mentioned {subject} again, which reminded me of {other}.",
    "I keep postponing {subject}, but {other} feels more urgent.",
    "It was {adjective} to finally deal with {subject}.",
    "Tell me something {adjective} about {subject}.",
    "My plan for {day} is to sort out {subject} and then forget about {other}.",
    "I wonder whether {subject} is worth the effort at all.",
    "A friend says {subject} is {adjective}, and I half agree.",
    "Last time, {subject} and {other} happened on the same {day}, which was {adjective}.",
    "Remind me to write a list for {subject}.",
)
OPENERS = ("Quick one.", "Another question.", "Before I forget:", "Hi again.", "Right.")
CITIES = (
    "Lisbon",
    "Oslo",
    "Kraków",
    "Bilbao",
    "Montreal",
    "Nairobi",
    "Osaka",
    "Lyon",
    "Cusco",
    "Ghent",
    "Tallinn",
    "Seville",
    "Perth",
    "Bergen",
    "Porto",
)
CURRENCIES = ("USD", "GBP", "JPY", "CHF", "SEK", "NOK", "CLP", "MXN", "CAD", "AUD")
RATES = {
    "USD": 1.085,
    "GBP": 0.852,
    "JPY": 162.4,
    "CHF": 0.961,
    "SEK": 11.42,
    "NOK": 11.71,
    "CLP": 1012.0,
    "MXN": 18.63,
    "CAD": 1.476,
    "AUD": 1.652,
}
REASONS = (
    "I am planning a trip there.",
    "A colleague asked me and I had no idea.",
    "It is for a birthday present.",
    "I need it for the team offsite.",
    "Just curious, to be honest.",
)
CHAT_REPLIES = (
    "That sounds like a lot to juggle. If {subject} can wait, I would start with the rest.",
    "Thanks for telling me. {Subject} does tend to take longer than planned.",
    "Fair enough. A short list for {subject} might make it feel lighter.",
    "Noted. Let me know how {subject} goes.",
    "I see. It helps to pick one thing, say {subject}, and finish it first.",
)
CONDITIONS = ("light rain", "sunny spells", "overcast", "clear skies", "showers", "fog at first")
DIRECTIONS = ("north", "north-east", "east", "south-east", "south", "south-west", "west")


def seeded(*parts: object) -> random.Random:
    """A random source fixed by `parts` (crc32, not `hash`, which changes from run to run)."""
    return random.Random(zlib.crc32(repr(parts).encode()))


@tool
def weather(city: str) -> str:
    """The weather forecast for a city: today and the next two days."""
    rng = seeded("weather", city)
    days = []
    for day in ("Today", "Tomorrow", "The day after"):
        low = rng.randint(-3, 18)
        days.append(
            f"{day}: {rng.choice(CONDITIONS)}, {low}°C to {low + rng.randint(3, 9)}°C, wind "
            f"{rng.randint(5, 40)} km/h from the {rng.choice(DIRECTIONS)}, humidity "
            f"{rng.randint(40, 95)}%."
        )
    return (
        f"Forecast for {city}. {' '.join(days)} Sunrise at 0{rng.randint(5, 8)}:"
        f"{rng.randint(10, 59)}, sunset at {rng.randint(17, 21)}:{rng.randint(10, 59)}. Source: "
        "the bench's weather service, updated every hour."
    )


@tool
def convert(amount: float, currency: str) -> str:
    """Convert an amount of euros into another currency at today's mid-market rate."""
    rate = RATES.get(currency.upper())
    if rate is None:
        return f"Unknown currency {currency!r}; known: {', '.join(RATES)}."
    converted = amount * rate
    return (
        f"{amount:,.2f} EUR = {converted:,.2f} {currency} at {rate:.4f} {currency} per EUR "
        f"(mid-market rate). A bank transfer adds a fee of about {converted * 0.012:,.2f} "
        f"{currency}; card payments abroad usually cost 1.5% to 2.5% more than this rate. "
        "Rates refresh every fifteen minutes; this one comes from the bench's exchange table, "
        "which does not move during a run."
    )


TOOLS: list[BaseTool] = [weather, convert]


@dataclass(frozen=True)
class Step:
    """What the scripted model does with one human message."""

    kind: str
    """"chat", "tool" or "question"."""
    reply: str = ""
    call: tuple[str, dict[str, Any]] | None = None
    """The tool call a "tool" step makes first."""
    fact: Fact | None = None


QUESTION_KINDS = ("direct", "reworded")
"""Direct questions share words with their fact; reworded ones share none (`Fact.reworded`)."""


@dataclass
class Workload:
    turns: list[str]
    """The ordinary turns' human messages."""
    questions: dict[str, list[tuple[str, Fact]]]
    """Question kind -> its questions (human message, fact), in the order they are asked."""
    script: dict[str, Step] = field(default_factory=dict)
    planted: dict[str, int] = field(default_factory=dict)
    """Fact value -> the (1-based) turn it was planted in."""


def chat_message(rng: random.Random, planted: Sequence[Fact]) -> str:
    """Three to five sentences about everyday things, with the facts in passing (never first)."""
    sentences = []
    for _ in range(rng.randint(3, 5)):
        subject, other = rng.sample(SUBJECTS, 2)
        template = rng.choice(SENTENCES)
        sentences.append(
            template.format(
                subject=subject, other=other, day=rng.choice(DAYS), adjective=rng.choice(ADJECTIVES)
            )
        )
    for fact in planted:
        sentences.insert(rng.randint(1, len(sentences)), fact.statement)
    return " ".join(sentences)


def chat_reply(text: str) -> str:
    rng = seeded("reply", text)
    subject = rng.choice(SUBJECTS)
    return rng.choice(CHAT_REPLIES).format(subject=subject, Subject=subject.capitalize())


def tool_request(rng: random.Random) -> tuple[str, tuple[str, dict[str, Any]]]:
    opener, reason = rng.choice(OPENERS), rng.choice(REASONS)
    if rng.random() < 0.5:
        city = rng.choice(CITIES)
        day = rng.choice(DAYS)
        text = f"{opener} What will the weather be like in {city} on {day}? {reason}"
        return text, ("weather", {"city": city})
    amount = rng.choice((20, 45, 120, 250, 600, 1250, 3000)) + rng.randint(0, 99)
    currency = rng.choice(CURRENCIES)
    return f"{opener} How much is {amount} euros in {currency}? {reason}", (
        "convert",
        {"amount": amount, "currency": currency},
    )


def make_workload(turns: int, seed: int = SEED) -> Workload:
    """`turns` ordinary turns (facts planted in the first 10%), then one question per fact."""
    if turns < 2 * len(FACTS):
        raise ValueError(f"--turns must be at least {2 * len(FACTS)}")
    rng = random.Random(seed)
    kinds = ["tool" if rng.random() < TOOL_SHARE else "chat" for _ in range(turns)]
    window = max(1, int(turns * PLANT_SHARE))
    slots = [i for i in range(window) if kinds[i] == "chat"] or [0]
    kinds[slots[0]] = "chat"
    facts_at: dict[int, list[Fact]] = {}
    for index, fact in enumerate(FACTS):  # evenly over the chat turns of the window
        facts_at.setdefault(slots[index * len(slots) // len(FACTS)], []).append(fact)
    workload = Workload(turns=[], questions={kind: [] for kind in QUESTION_KINDS})
    for index, kind in enumerate(kinds):
        while True:  # every human message is distinct: it is the script's key
            if kind == "chat":
                text, call = chat_message(rng, facts_at.get(index, [])), None
            else:
                text, call = tool_request(rng)
                text = f"{text} (request {index + 1})" if text in workload.script else text
            if text not in workload.script:
                break
        step = Step(kind, reply=chat_reply(text), call=call)
        workload.script[text] = step
        workload.turns.append(text)
        for fact in facts_at.get(index, []):
            workload.planted[fact.value] = index + 1
    order = list(FACTS)
    rng.shuffle(order)
    for fact in order:
        text = f"{fact.question} I mentioned it a while ago."
        workload.script[text] = Step("question", fact=fact)
        workload.questions["direct"].append((text, fact))
    reworded = list(FACTS)
    seeded("reworded", seed).shuffle(reworded)  # its own source: the rest stays as it was
    for fact in reworded:
        if fact.reworded in workload.script:
            raise AssertionError(f"{fact.reworded!r} is also another turn's message")
        workload.script[fact.reworded] = Step("question", fact=fact)
        workload.questions["reworded"].append((fact.reworded, fact))
    check_unique(workload)
    check_reworded(workload)
    return workload


def check_unique(workload: Workload) -> None:
    """Each fact's token must occur in its planting message and nowhere else (messages, replies
    and tool results), or finding it in a prompt would prove nothing."""
    texts = [*workload.turns, *(step.reply for step in workload.script.values())]
    texts += [text for questions in workload.questions.values() for text, _ in questions]
    for step in workload.script.values():
        if step.call is not None:
            name, args = step.call
            texts.append(next(t for t in TOOLS if t.name == name).invoke(args))
    for fact in FACTS:
        found = sum(fact.value in text for text in texts)
        if found != 1:
            raise AssertionError(f"{fact.value!r} occurs in {found} texts of the workload, not 1")


def check_reworded(workload: Workload) -> None:
    """A reworded question shares no analysed term (Memoria's own analysis, the one its full-text
    search uses) with the message its fact was planted in: the automatic recall of that question
    cannot find the fact's turn."""
    terms = analyzer("en").query_terms
    for fact in FACTS:
        planted = workload.turns[workload.planted[fact.value] - 1]
        if shared := set(terms(fact.reworded)) & set(terms(planted)):
            raise AssertionError(
                f"{fact.reworded!r} shares {sorted(shared)} with the message planting "
                f"{fact.value!r}"
            )


# The scripted model


@dataclass
class Call:
    tokens: int
    text: str = ""
    """The whole prompt as text (only while capturing: question turns)."""
    tool: str = ""
    """The tool the reply calls, if any."""


class ScriptedChatModel(BaseChatModel):
    """Deterministic and instant: looks the turn's human message up in the script. A tool step
    first calls its tool, then answers from the result; a question step first searches the
    conversation when `search_conversation` is bound, then answers with the fact if it is in the
    prompt; a chat step answers at once. Records the size of every prompt it is sent."""

    _script: dict[str, Step] = PrivateAttr(default_factory=dict)
    _calls: list[Call] = PrivateAttr(default_factory=list)
    _capture: bool = PrivateAttr(default=False)
    _call_ids: int = PrivateAttr(default=0)

    def __init__(self, script: dict[str, Step], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._script = script

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(
        self, tools: Sequence[Any], *, tool_choice: Any = None, **kwargs: Any
    ) -> Runnable[Any, AIMessage]:
        names = [t.name if isinstance(t, BaseTool) else t["function"]["name"] for t in tools]
        return self.bind(tool_names=names, **kwargs)

    def start_turn(self, *, capture: bool) -> None:
        self._calls, self._capture = [], capture

    def calls(self) -> list[Call]:
        return self._calls

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        tool_names: Sequence[str] = (),
        **kwargs: Any,
    ) -> ChatResult:
        tokens = COUNTER.prompt(messages)
        text = "\n".join(message_text(m) for m in messages) if self._capture else ""
        call = Call(tokens, text)
        self._calls.append(call)
        reply = self._reply(messages, set(tool_names), text)
        call.tool = reply.tool_calls[0]["name"] if reply.tool_calls else ""
        reply.usage_metadata = {
            "input_tokens": tokens,
            "output_tokens": COUNTER.messages([reply]),
            "total_tokens": tokens + COUNTER.messages([reply]),
        }
        return ChatResult(generations=[ChatGeneration(message=reply)])

    def _reply(self, messages: list[BaseMessage], tools: set[str], prompt: str) -> AIMessage:
        start = max((i for i, m in enumerate(messages) if isinstance(m, HumanMessage)), default=0)
        human = message_text(messages[start]) if messages else ""
        # Memoria sends two human messages in a row as one: the last paragraph is this turn's.
        step = self._script.get(human) or self._script.get(human.rsplit("\n\n", 1)[-1])
        if step is None:
            return AIMessage("I am not sure what you mean.")
        results = [m for m in messages[start + 1 :] if isinstance(m, ToolMessage)]
        if step.kind == "tool" and step.call is not None:
            if not results:
                return self._call(*step.call)
            found = re.split(r"(?<=[.!?])\s", message_text(results[-1]), maxsplit=2)[:2]
            return AIMessage(f"Here is what I found: {' '.join(found)}")
        if step.kind == "question" and step.fact is not None:
            if not results and MEMORY_TOOL_NAME in tools:
                return self._call(MEMORY_TOOL_NAME, {"query": step.fact.query})
            if prompt and step.fact.value in prompt:
                return AIMessage(f"You told me: {step.fact.statement}")
            return AIMessage("I cannot find that in our conversation, sorry.")
        return AIMessage(step.reply)

    def _call(self, name: str, args: dict[str, Any]) -> AIMessage:
        self._call_ids += 1
        call_id = f"call_{self._call_ids:06d}"
        return AIMessage("", tool_calls=[{"name": name, "args": args, "id": call_id}])


def summarize(messages: list[BaseMessage]) -> str:
    """The shared summariser as SummarizationMiddleware takes it: the previous summary (its first
    message, when it has one) and the messages after it, merged into at most SUMMARY_CAP tokens."""
    previous = ""
    if messages and messages[0].additional_kwargs.get("lc_source") == "summarization":
        previous = message_text(messages[0]).removeprefix(SUMMARY_PREFIX)
        messages = messages[1:]
    return SUMMARISER.summarise(previous, messages, SUMMARY_CAP, COUNTER.text)


# The systems


class AgentSystem(Protocol):
    name: str
    model: ScriptedChatModel

    def turn(self, text: str) -> None: ...

    def checkpoint_bytes(self) -> int: ...

    def disk_bytes(self) -> dict[str, int]:
        """Each database file's size on disk, by what it holds."""
        ...

    def memoria_databases(self) -> list[Path]:
        """The Memoria database file(s), which a copy of the system copies whole."""
        ...

    def close(self) -> None: ...


CONFIG: Any = {"configurable": {"thread_id": THREAD}}


class CreateAgentSystem:
    """`create_agent` with the scripted model, the two tools, `middleware`, and a SqliteSaver."""

    def __init__(
        self,
        name: str,
        directory: Path,
        script: dict[str, Step],
        middleware: Sequence[Any] = (),
        transcript: Path | None = None,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self.name = name
        self.path = directory / f"{re.sub(r'[^a-z]+', '-', name.lower()).strip('-')}.sqlite"
        self.transcript = transcript
        self.on_close = on_close
        self.conn = sqlite3.connect(self.path, check_same_thread=False)
        self.saver = SqliteSaver(self.conn)
        self.model = ScriptedChatModel(script)
        self.agent = create_agent(
            self.model,
            tools=TOOLS,
            system_prompt=SYSTEM_PROMPT,
            middleware=list(middleware),
            checkpointer=self.saver,
        )

    def turn(self, text: str) -> None:
        self.agent.invoke({"messages": [HumanMessage(text)]}, CONFIG)

    def checkpoint_bytes(self) -> int:
        saved = self.saver.get_tuple(CONFIG)
        return len(self.saver.serde.dumps_typed(saved.checkpoint)[1]) if saved else 0

    def disk_bytes(self) -> dict[str, int]:
        sizes = {"checkpoints": sqlite_size(self.path)}
        if self.transcript is not None:
            sizes["transcript"] = sqlite_size(self.transcript)
        return sizes

    def memoria_databases(self) -> list[Path]:
        return [self.transcript] if self.transcript is not None else []

    def adopt(self, saver: SqliteSaver) -> None:
        """Start from the thread's latest checkpoint in `saver` (the older ones are history that
        no later turn reads: the plain agent's run to 2 GB)."""
        saved = saver.get_tuple(CONFIG)
        if saved is None:
            return
        config = self.saver.put(
            {"configurable": {"thread_id": THREAD, "checkpoint_ns": ""}},
            saved.checkpoint,
            saved.metadata,
            saved.checkpoint["channel_versions"],
        )
        for task_id, channel, value in saved.pending_writes or ():
            self.saver.put_writes(config, [(channel, value)], task_id)

    def close(self) -> None:
        self.conn.close()
        if self.on_close is not None:
            self.on_close()


class MemoriaSystem:
    """Memoria's own graph, with the tools, one `send` per turn."""

    name = "memoria"

    def __init__(self, directory: Path, script: dict[str, Step]) -> None:
        self.path = directory / "memoria.sqlite"
        self.model = ScriptedChatModel(script)
        self.agent = Memoria(
            db=self.path,
            model=self.model,
            tools=TOOLS,
            summary_model=ExtractiveSummariser(),
            context=Context(**MEMORY),
        )

    def turn(self, text: str) -> None:
        self.agent.send(THREAD, text)

    def checkpoint_bytes(self) -> int:
        saver = self.agent.checkpointer
        saved = saver.get_tuple(self.agent.config(THREAD))
        return len(saver.serde.dumps_typed(saved.checkpoint)[1]) if saved else 0

    def disk_bytes(self) -> dict[str, int]:
        return {"checkpoints and transcript": sqlite_size(self.path)}

    def memoria_databases(self) -> list[Path]:
        return [self.path]

    def close(self) -> None:
        self.agent.close()


SYSTEMS = ("memoria", "middleware", "summarization", "plain")
NAMES = {
    "memoria": "memoria",
    "middleware": "create_agent + MemoriaMiddleware",
    "summarization": "create_agent + SummarizationMiddleware",
    "plain": "create_agent (no memory)",
}


def make_system(key: str, directory: Path, script: dict[str, Step]) -> AgentSystem:
    name = NAMES[key]
    if key == "memoria":
        return MemoriaSystem(directory, script)
    if key == "middleware":
        transcript = directory / "middleware-transcript.sqlite"
        memory = MemoriaMiddleware(db=transcript, summary_model=ExtractiveSummariser(), **MEMORY)
        return CreateAgentSystem(
            name, directory, script, [memory], transcript=transcript, on_close=memory.close
        )
    if key == "summarization":
        return CreateAgentSystem(
            name,
            directory,
            script,
            # SummarizationMiddleware needs a model even with a summarizer (for its profile and
            # token counting); the summarizer writes every summary, the model is never called.
            [
                SummarizationMiddleware(
                    ScriptedChatModel(script), trigger=TRIGGER, keep=KEEP, summarizer=summarize
                )
            ],
        )
    return CreateAgentSystem(name, directory, script)


def fork_system(
    key: str, system: AgentSystem, directory: Path, script: dict[str, Step]
) -> AgentSystem:
    """A second system like `system`, in `directory`, with the same thread as `system` has now
    (its Memoria database(s) copied whole, its latest checkpoint for `create_agent`): questions
    asked of one do not reach the other's memory."""
    directory.mkdir()
    for path in system.memoria_databases():
        with (
            closing(sqlite3.connect(path)) as source,
            closing(sqlite3.connect(directory / path.name)) as target,
        ):
            source.backup(target)
    copy = make_system(key, directory, script)
    if isinstance(system, CreateAgentSystem) and isinstance(copy, CreateAgentSystem):
        copy.adopt(system.saver)
    return copy


# Running and reporting


def run(
    system: AgentSystem,
    workload: Workload,
    turns: int,
    budget: float,
    fork: Callable[[], AgentSystem],
) -> dict[str, Any]:
    """Drive the ordinary turns (stopping after `budget` seconds), then ask the questions: the
    direct ones of `system`, the reworded ones of a copy made before (`fork`), so that neither kind
    finds the facts in the other's questions and answers."""
    timings: list[float] = []
    tokens: list[int] = []
    checkpoints: dict[int, int] = {}
    disk: dict[int, dict[str, int]] = {}
    started = time.perf_counter()
    for number, text in enumerate(workload.turns[:turns], 1):
        system.model.start_turn(capture=False)
        t0 = time.perf_counter()
        system.turn(text)
        timings.append(time.perf_counter() - t0)
        tokens.extend(call.tokens for call in system.model.calls())
        over_budget = time.perf_counter() - started > budget
        if number in (SIZE_MARK, turns) or over_budget:
            checkpoints[number], disk[number] = system.checkpoint_bytes(), system.disk_bytes()
        if over_budget:
            break
    ordinary = time.perf_counter() - started
    copy = fork()
    in_view: dict[str, dict[str, dict[str, bool]]] = {}
    try:
        for kind, asked in (("direct", system), ("reworded", copy)):
            in_view[kind] = {}
            for text, fact in workload.questions[kind]:
                asked.model.start_turn(capture=True)
                asked.turn(text)
                calls = asked.model.calls()
                if kind == "direct":  # the prompt sizes are of one conversation, as before
                    tokens.extend(call.tokens for call in calls)
                in_view[kind][fact.value] = {
                    "first_call": fact.value in calls[0].text,
                    "end_of_turn": any(fact.value in call.text for call in calls),
                    "searches": sum(call.tool == MEMORY_TOOL_NAME for call in calls),
                }
    finally:
        copy.close()
    kinds = [workload.script[text].kind for text in workload.turns[: len(timings)]]
    return {
        "turns": len(timings),
        "ms": {
            kind: {mark: median_ms(timings, kinds, kind, mark) for mark in MARKS}
            for kind in ("chat", "tool")
        },
        "prompt_tokens": tokens,
        "checkpoint_bytes": checkpoints,
        "disk_bytes": disk,
        "facts_in_view": in_view,
        "seconds": ordinary,
        "seconds_with_questions": time.perf_counter() - started,
    }


def median_ms(timings: list[float], kinds: list[str], kind: str, mark: int) -> float | None:
    """Median time of the `kind` turns among the 21 around `mark` (the last 21 for the last)."""
    if len(timings) < mark:
        return None
    start = max(0, min(mark - 1 - WINDOW, len(timings) - 2 * WINDOW - 1))
    stop = start + 2 * WINDOW + 1
    chosen = [t for t, k in zip(timings[start:stop], kinds[start:stop], strict=True) if k == kind]
    return statistics.median(chosen) * 1000 if chosen else None


def summary_of(result: dict[str, Any], turns: int) -> dict[str, Any]:
    tokens = result["prompt_tokens"]
    last_turn = max(result["checkpoint_bytes"])
    disk = result["disk_bytes"]
    return {
        "turns": result["turns"],
        "stopped": result["turns"] < turns,
        "model_calls": len(tokens),
        "prompt_mean": statistics.fmean(tokens),
        "prompt_max": max(tokens),
        "ms": result["ms"],
        "checkpoint_at_100": result["checkpoint_bytes"].get(SIZE_MARK),
        "checkpoint_at_last": result["checkpoint_bytes"][last_turn],
        "disk_at_100": sum(disk[SIZE_MARK].values()) if SIZE_MARK in disk else None,
        "disk_at_last": sum(disk[last_turn].values()),
        "disk_files_at_last": disk[last_turn],
        "last_turn": last_turn,
        "facts_in_view": {
            kind: {
                moment: sum(seen[moment] for seen in by_value.values())
                for moment in ("first_call", "end_of_turn", "searches")
            }
            for kind, by_value in result["facts_in_view"].items()
        },
        "facts": len(FACTS),
        "missed": {
            kind: [value for value, seen in by_value.items() if not seen["end_of_turn"]]
            for kind, by_value in result["facts_in_view"].items()
        },
        "seconds": result["seconds"],
        "seconds_with_questions": result["seconds_with_questions"],
    }


def size(value: int | None) -> str:
    if value is None:
        return "—"
    return f"{value / 1e6:.2f} MB" if value >= 100_000 else f"{value / 1e3:.1f} kB"


def ms(value: float | None) -> str:
    return f"{value:.2f}" if value is not None else "—"


def ratio(value: float | None, anchor: float | None) -> str:
    if value is None or not anchor:
        return "—"
    return f"{value / anchor:.2f}×" if value / anchor >= 0.1 else f"{value / anchor:.2g}×"


def label(name: str, summary: dict[str, Any]) -> str:
    return f"{name} (stopped at turn {summary['turns']})" if summary["stopped"] else name


def tables(summaries: dict[str, dict[str, Any]], turns: int) -> str:
    out = [
        f"Prompt tokens per model call (the {turns} turns and the {len(FACTS)} direct questions):",
        "",
        "| system | model calls | mean prompt tokens | max prompt tokens |",
        "|---|---|---|---|",
    ]
    for name, s in summaries.items():
        out.append(
            f"| {label(name, s)} | {s['model_calls']} | {s['prompt_mean']:.0f} | "
            f"{s['prompt_max']} |"
        )
    out += [
        "",
        "The planted facts put in front of the model when asked for: at the question turn's first "
        "model call (the memory view, automatic recall included), and by the end of the turn "
        f"(after any `{MEMORY_TOOL_NAME}` calls, counted in the last column); direct questions "
        "share words with their fact, reworded ones none:",
        "",
        "| system | direct: first call | direct: end of turn | reworded: first call | "
        "reworded: end of turn | searches (direct, reworded) |",
        "|---|---|---|---|---|---|",
    ]
    for name, s in summaries.items():
        seen = s["facts_in_view"]
        cells = [
            f"{seen[kind][moment]}/{s['facts']}"
            for kind in QUESTION_KINDS
            for moment in ("first_call", "end_of_turn")
        ]
        searches = ", ".join(str(seen[kind]["searches"]) for kind in QUESTION_KINDS)
        out.append(f"| {label(name, s)} | {' | '.join(cells)} | {searches} |")
    out += [
        "",
        "Storage: the thread's latest checkpoint, and the database file(s) on disk:",
        "",
        f"| system | checkpoint at turn {SIZE_MARK} | checkpoint at turn {turns} | "
        f"database at turn {SIZE_MARK} | database at turn {turns} |",
        "|---|---|---|---|---|",
    ]
    for name, s in summaries.items():
        at = "" if s["last_turn"] == turns else f" (turn {s['last_turn']})"
        files = s["disk_files_at_last"]
        parts = (
            f" ({', '.join(f'{k} {size(v)}' for k, v in files.items())})" if len(files) > 1 else ""
        )
        out.append(
            f"| {label(name, s)} | {size(s['checkpoint_at_100'])} | "
            f"{size(s['checkpoint_at_last'])}{at} | {size(s['disk_at_100'])} | "
            f"{size(s['disk_at_last'])}{at}{parts} |"
        )
    out += [
        "",
        f"Time per turn with an instant model, ms: median of the chat turns and of the tool turns "
        f"among the {2 * WINDOW + 1} turns around each mark:",
        "",
        "| system | chat, turn 10 | chat, turn 100 | chat, turn 1000 | chat, 1000 / 10 | "
        "tool, turn 10 | tool, turn 100 | tool, turn 1000 | tool, 1000 / 10 | all turns (s) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, s in summaries.items():
        cells = []
        for kind in ("chat", "tool"):
            values = s["ms"][kind]
            cells += [*(ms(values[m]) for m in MARKS), ratio(values[1000], values[10])]
        out.append(f"| {label(name, s)} | {' | '.join(cells)} | {s['seconds']:.1f} |")
    for anchor in (NAMES["plain"], NAMES["summarization"]):
        if anchor not in summaries:
            continue
        a = summaries[anchor]
        out += [
            "",
            f"Ratios to {anchor}, same run (— where either has no value):",
            "",
            f"| system | mean prompt | checkpoint at turn {SIZE_MARK} | checkpoint at turn "
            f"{turns} | database at turn {turns} | chat turn 100 | chat turn 1000 | "
            "tool turn 100 | tool turn 1000 |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for name, s in summaries.items():
            if name == anchor:
                continue
            both = not s["stopped"] and not a["stopped"]
            cells = [
                ratio(s["prompt_mean"], a["prompt_mean"]),
                ratio(s["checkpoint_at_100"], a["checkpoint_at_100"]),
                ratio(s["checkpoint_at_last"], a["checkpoint_at_last"]) if both else "—",
                ratio(s["disk_at_last"], a["disk_at_last"]) if both else "—",
                *(
                    ratio(s["ms"][kind][mark], a["ms"][kind][mark])
                    for kind in ("chat", "tool")
                    for mark in (100, 1000)
                ),
            ]
            out.append(f"| {label(name, s)} | {' | '.join(cells)} |")
    missed = [
        f"- {name}, {kind}: {', '.join(values)}"
        for name, s in summaries.items()
        for kind, values in s["missed"].items()
        if values
    ]
    if missed:
        out += ["", "Facts not in view by the end of the question turn:", *missed]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.agent", description=__doc__)
    parser.add_argument("--turns", type=int, default=1000, help="ordinary turns, before questions")
    parser.add_argument(
        "--budget",
        type=float,
        default=120.0,
        help="seconds of ordinary turns each system may run before it is stopped",
    )
    parser.add_argument(
        "--systems",
        default=",".join(SYSTEMS),
        help=f"which systems, comma-separated (of {', '.join(SYSTEMS)})",
    )
    parser.add_argument("--out", type=Path, default=Path("bench/out"), help="where agent.json goes")
    args = parser.parse_args()
    keys = [key.strip() for key in args.systems.split(",") if key.strip()]
    if unknown := sorted(set(keys) - set(SYSTEMS)):
        parser.error(f"unknown systems: {', '.join(unknown)}")

    wall = time.perf_counter()
    workload = make_workload(args.turns)
    tool_turns = sum(workload.script[text].kind == "tool" for text in workload.turns)
    print(
        f"workload: {args.turns} ordinary turns ({tool_turns} with a tool call), "
        f"{len(FACTS)} facts planted in turns {min(workload.planted.values())}-"
        f"{max(workload.planted.values())}, then "
        f"{' and '.join(f'{len(q)} {kind}' for kind, q in workload.questions.items())} questions",
        flush=True,
    )
    summaries: dict[str, dict[str, Any]] = {}
    in_view: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="memoria-bench-agent-") as tmp:
        for key in keys:
            system = make_system(key, Path(tmp), workload.script)
            fork = partial(fork_system, key, system, Path(tmp) / f"{key}-copy", workload.script)
            try:
                result = run(system, workload, args.turns, args.budget, fork)
            finally:
                system.close()
            summaries[system.name] = summary_of(result, args.turns)
            in_view[system.name] = result["facts_in_view"]
            print(
                f"{system.name}: {result['turns']} turns in {result['seconds']:.1f} s, "
                f"{result['seconds_with_questions']:.1f} s with the questions",
                flush=True,
            )
    elapsed = time.perf_counter() - wall
    print()
    print(tables(summaries, args.turns))
    print(f"\nwall time: {elapsed:.0f} s")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "agent.json"
    dump = {
        "turns": args.turns,
        "budget_seconds": args.budget,
        "wall_seconds": elapsed,
        "planted_at_turn": workload.planted,
        "systems": {
            name: {**summary, "facts_in_view_by_value": in_view[name]}
            for name, summary in summaries.items()
        },
    }
    path.write_text(json.dumps(dump, indent=2, ensure_ascii=False))
    print(f"data: {path}")


if __name__ == "__main__":
    main()
