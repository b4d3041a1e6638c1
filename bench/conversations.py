"""A generated set of long conversations with late questions about early details, for `bench.recall`.

Why generated: no download, no licence question, and every run sees the same data (deterministic from
a seed). Each conversation is one person talking to an assistant over a long time, in Spanish or in
English:

- **Persona facts** are planted in the first 30% of the user turns (name, city, job and employer,
  pet, partner, child, sibling and where they live, allergy, birthday, car, hobby, favourite dish,
  degree and university, a work project, a trip, a gym locker number, a language being learnt, a
  football team), each inside an ordinary message. Values are drawn from word banks per conversation.
- **Filler** makes up the rest: cooking, sport, films, weather, work, travel, tech, health, money, home
  and small talk, from many templates and word banks, with openers, context sentences and closers.
- **Distractors** reuse a fact's key words in another context (a neighbour's pet, a film set in the
  same city, a brother-in-law with the same job, "my least favourite dish"), so ranking matters.
- **Updates** change some facts between 35% and 75% of the way through (a move, a new job, a new car,
  a new pet), stated naturally ("Al final me mudé de Bogotá a Lima", "I quit Acme and joined Globex").
- **Questions** come in the last 20% of the turns as ordinary user turns, about 12 per conversation.
  Each knows its `evidence` (the user turns that answer it) and, for each, the `facts` substring of
  that turn that carries the answer. Kinds, by how the question's words relate to the evidence:
  `inflected` (same lemma, another form: vivo/vivía, allergic/allergy), `paraphrase` (restructured,
  sharing at least one content word), `synonym` (the key word replaced by a synonym or hypernym:
  coche/vehículo, dog/pet), `multi` (two facts from different turns) and `update` (the current value
  of a fact that changed: the evidence is the newest statement, not the old one).

Word banks and templates are data, in `bench/data/assistant_es.json` and `assistant_en.json`, checked
when loaded (`check_text`); this module only draws from them, deterministically from a seed.

Nothing here is tuned to any retrieval method: questions are written the way a user would ask them,
and the per-kind breakdown of the benchmark shows where lexical recall fails.

`python -m bench.conversations` prints the set's statistics and a few example questions.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import random
import re
import string
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KINDS = ("inflected", "paraphrase", "synonym", "multi", "update")
LANGUAGES = ("es", "en")
DEFAULT_SEED = 20261125

PLANT_END = 0.30  # facts are planted in the first 30% of the turns
UPDATE_ZONE = (0.35, 0.75)  # facts change between 35% and 75%
QUESTION_START = 0.80  # questions come in the last 20%
MIN_TURNS = 100
FULL_TURNS = 300  # from here on a conversation is full-size (the length checks apply in full)
SHORT, LONG = 80, 220  # most user messages are this long (characters)

# Question mix per conversation (inflected, paraphrase, synonym, multi, update), cycled so that the
# whole set comes out near 30% / 30% / 15% / 15% / 10%.
KIND_PATTERNS = (
    (4, 3, 2, 2, 1),
    (3, 4, 2, 2, 1),
    (4, 4, 2, 1, 1),
    (3, 3, 2, 2, 2),
)


@dataclass(frozen=True)
class Question:
    """A late user turn that asks about earlier turns."""

    at: int
    """Index of the user turn that asks it (`turns[at] == text`)."""
    text: str
    evidence: list[int]
    """Indices of the user turns that answer it, oldest first."""
    facts: list[str]
    """For each evidence turn, the substring of that user message that carries the answer."""
    answer: str
    kind: str


@dataclass
class Conversation:
    id: str
    language: str
    turns: list[str]
    """The user messages, in order."""
    questions: list[Question] = field(default_factory=list)
    replies: list[str] | None = None
    """The other speaker's messages, one per user message (`bench.chats`); None: whatever the
    model says."""
    set: str = "assistant"
    """Which generated set it comes from: `assistant` (here) or `chat` (`bench.chats`)."""

    def exchange(self, at: int) -> str:
        """The text of turn `at`: the user message and, where scripted, the reply."""
        return self.turns[at] if self.replies is None else f"{self.turns[at]}\n{self.replies[at]}"


# --------------------------------------------------------------------------------------------------
# Templates and word banks: data, in `bench/data/assistant_{es,en}.json`, checked when loaded. In a
# planted sentence (and an update statement) the fact is marked [like this]; placeholders are
# persona values (`make_persona`). Filler placeholders name a bank (a trailing digit asks for a
# different value from the same bank) or a persona value.

DATA = Path(__file__).with_name("data")
_FORMATTER = string.Formatter()


@dataclass(frozen=True)
class SlotText:
    """How one persona fact is planted, asked about and imitated, in one language."""

    plants: tuple[str, ...]
    answer: str
    distractors: tuple[str, ...]
    inflected: tuple[str, ...] = ()
    paraphrase: tuple[str, ...] = ()
    synonym: tuple[str, ...] = ()


@dataclass(frozen=True)
class UpdateText:
    """A later statement that changes a fact, and the question about its current value."""

    statements: tuple[str, ...]
    questions: tuple[str, ...]
    answer: str


@dataclass(frozen=True)
class MultiText:
    """A question that needs two facts from different turns."""

    slots: tuple[str, str]
    questions: tuple[str, ...]
    answer: str


@dataclass(frozen=True)
class LanguageText:
    """Every template and word bank of one language."""

    persona: dict[str, tuple]
    """The banks `make_persona` draws from (`PERSONA_BANKS`)."""
    slots: dict[str, SlotText]
    updates: dict[str, UpdateText]
    multi: tuple[MultiText, ...]
    question_openers: tuple[str, ...]
    banks: dict[str, tuple[str, ...]]
    """The filler's word banks, by placeholder name."""
    filler: tuple[str, ...]
    chat: tuple[str, ...]
    openers: tuple[str, ...]
    contexts: tuple[str, ...]
    closers: tuple[str, ...]
    acks: tuple[str, ...]


# The persona banks of a data file, with the fewest values `make_persona` can draw from. A value is
# a string, or for the words listed in PERSONA_FORMS a list of that many forms.
PERSONA_BANKS = {
    "names_f": 4, "names_m": 4, "surnames": 1, "cities": 4, "jobs": 1, "company_kinds": 1,
    "company_names": 2, "species": 2, "pet_names": 2, "partners": 1, "allergens": 1, "months": 2,
    "makes": 2, "colours": 1, "hobbies": 2, "foods": 1, "degrees": 1, "universities": 1,
    "projects": 1, "destinations": 1, "languages": 2, "teams": 2,
}  # fmt: skip
PERSONA_FORMS = {
    "es": {
        "jobs": 2,  # masculine, feminine
        "species": 4,  # species, indefinite article, definite article, plural
        "partners": 2,  # the word, and the partner's sex: "m" or "f"
        "allergens": 2,  # bare, with the preposition "a"
        "teams": 3,  # name, "soy ___", "ganó ___"
    },
    "en": {"partners": 2},
}
TEXT_LISTS = ("question_openers", "filler", "chat", "openers", "contexts", "closers", "acks")
UNFORMATTED = ("question_openers", "openers", "contexts", "closers", "acks")  # used as they are


def load_data(name: str, check: Callable[[dict[str, Any]], list[str]]) -> dict[str, Any]:
    """The data file `bench/data/{name}.json`, checked by `check` (which lists what is wrong with
    it); ValueError naming the file and the first problems if anything is."""
    path = DATA / f"{name}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path.name}: not valid JSON: {error}") from error
    problems = check(data) if isinstance(data, dict) else ["not a JSON object"]
    if problems:
        raise ValueError(f"{path.name}: " + "; ".join(problems[:10]))
    return data


@functools.cache
def language_text(language: str) -> LanguageText:
    """The templates and word banks of one language, checked."""
    data = load_data(f"assistant_{language}", functools.partial(check_text, language=language))
    return LanguageText(
        persona={name: _tuples(values) for name, values in data["persona"].items()},
        slots={slot: SlotText(**_tuples(text)) for slot, text in data["slots"].items()},
        updates={slot: UpdateText(**_tuples(text)) for slot, text in data["updates"].items()},
        multi=tuple(MultiText(**_tuples(text)) for text in data["multi"]),
        banks={name: tuple(values) for name, values in data["banks"].items()},
        **{key: tuple(data[key]) for key in TEXT_LISTS},
    )


def _tuples(value: Any) -> Any:
    """JSON lists as tuples, at every depth."""
    if isinstance(value, list):
        return tuple(_tuples(item) for item in value)
    if isinstance(value, dict):
        return {key: _tuples(item) for key, item in value.items()}
    return value


def check_text(data: dict[str, Any], language: str) -> list[str]:
    """What is wrong with a language's data file: missing or empty lists, values of the wrong
    shape, too few values to draw from, plants without one [fact], placeholders nothing fills."""
    problems: list[str] = []
    if data.get("language") != language:
        problems.append(f"language {data.get('language')!r}, expected {language!r}")
    problems += _check_persona(data.get("persona"), language)

    def strings(where: str, value: Any, *, empty: bool = False) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
            problems.append(
                f"{where}: " + ("missing" if value is None else "not a list of strings")
            )
            return []
        if not value and not empty:
            problems.append(f"{where}: empty")
        return value

    for key in TEXT_LISTS:
        strings(key, data.get(key))
    banks = data.get("banks")
    if not isinstance(banks, dict) or not banks:
        problems.append("banks: not a non-empty object")
        banks = {}
    for name, values in banks.items():
        strings(f"banks.{name}", values)

    slots = data.get("slots")
    if not isinstance(slots, dict) or not slots:
        problems.append("slots: not a non-empty object")
        slots = {}
    updates = data.get("updates")
    if not isinstance(updates, dict):
        problems.append("updates: not an object")
        updates = {}
    multi = data.get("multi")
    if not isinstance(multi, list) or not multi:
        problems.append("multi: not a non-empty list")
        multi = []
    # (where, templates) of every template filled from the persona alone.
    persona_templates: list[tuple[str, Any]] = []
    for kind, texts, cls, marked in (
        ("slots", slots.items(), SlotText, "plants"),
        ("updates", updates.items(), UpdateText, "statements"),
        ("multi", enumerate(multi), MultiText, None),
    ):
        names = [f.name for f in dataclasses.fields(cls)]
        required = [f.name for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING]
        for key, text in texts:
            where = f"{kind}.{key}"
            if not isinstance(text, dict) or set(text) - set(names) or set(required) - set(text):
                problems.append(f"{where}: needs the keys {required}, may have {names}")
                continue
            for field_name, value in text.items():
                if field_name == "answer":
                    if not isinstance(value, str) or not value:
                        problems.append(f"{where}.answer: not a non-empty string")
                    persona_templates.append((f"{where}.answer", [value]))
                elif field_name == "slots":
                    if not (
                        isinstance(value, list) and len(value) == 2 and len(set(value)) == 2
                    ) or any(slot not in slots for slot in value):
                        problems.append(f"{where}.slots: not two different slots of `slots`")
                else:
                    optional = field_name not in required
                    values = strings(f"{where}.{field_name}", value, empty=optional)
                    persona_templates.append((f"{where}.{field_name}", values))
                    for template in values if field_name == marked else ():
                        if not re.fullmatch(r"[^\[\]]*\[[^\[\]]+\][^\[\]]*", template):
                            problems.append(f"{where}: {template!r} needs one [fact]")
    for slot in UPDATABLE:
        if slot not in updates or slot not in slots:
            problems.append(f"updates: {slot!r} is updated, it needs a slot and an update")
    if problems:  # the placeholders are checked against a persona drawn from the banks
        return problems

    try:
        persona = _draw_persona(random.Random(0), language, data["persona"])
    except (IndexError, ValueError) as error:
        return [f"persona: no persona can be drawn from these banks ({error})"]
    for where, templates in persona_templates:
        for template in templates:
            problems += [
                f"{where}: {{{name}}} in {template!r} is no persona value"
                for name in _placeholders(template, problems, where)
                if name not in persona
            ]
    for key in ("filler", "chat"):
        for template in data[key]:
            wanted: Counter[str] = Counter()  # different values wanted from each bank
            for name in set(_placeholders(template, problems, key)) - set(persona):
                base = name.rstrip(string.digits)
                if base == "appliance_cap":  # a value of `appliance`, capitalised
                    base = "appliance"
                else:
                    wanted[base] += 1
                if base not in banks:
                    problems.append(
                        f"{key}: {{{name}}} in {template!r} is no bank or persona value"
                    )
            problems += [
                f"{key}: {template!r} wants {count} different values of bank {base!r}"
                for base, count in wanted.items()
                if base in banks and len(set(banks[base])) < count
            ]
    for key in UNFORMATTED:
        problems += [
            f"{key}: {text!r} has a placeholder, but is used as it is"
            for text in data[key]
            if _placeholders(text, problems, key)
        ]
    return problems


def _check_persona(banks: Any, language: str) -> list[str]:
    """What is wrong with the persona banks: missing, unknown, of the wrong shape, too small."""
    if not isinstance(banks, dict):
        return ["persona: not an object"]
    problems = [f"persona: no bank {name!r}" for name in PERSONA_BANKS if name not in banks]
    forms = PERSONA_FORMS.get(language, {})
    for name, values in banks.items():
        where = f"persona.{name}"
        if name not in PERSONA_BANKS:
            problems.append(f"{where}: unknown bank")
            continue
        count = forms.get(name, 1)
        if not isinstance(values, list) or not all(_has_forms(v, count) for v in values):
            shape = "non-empty strings" if count == 1 else f"lists of {count} non-empty strings"
            problems.append(f"{where}: not a list of {shape}")
        elif len(set(map(str, values))) < PERSONA_BANKS[name]:
            problems.append(f"{where}: fewer than {PERSONA_BANKS[name]} different values")
        elif name == "partners" and count == 2 and any(sex not in ("m", "f") for _, sex in values):
            problems.append(f"{where}: the second form is the sex, 'm' or 'f'")
    return problems


def _has_forms(value: Any, count: int) -> bool:
    """Whether a persona value is a non-empty string (`count` 1) or a list of `count` of them."""
    forms = [value] if count == 1 else value
    return (
        isinstance(forms, list)
        and len(forms) == count
        and all(isinstance(form, str) and form for form in forms)
    )


def _placeholders(template: str, problems: list[str], where: str) -> list[str]:
    """The placeholder names of a template; a template `str.format` cannot parse is a problem."""
    try:
        return [name for _, name, _, _ in _FORMATTER.parse(template) if name is not None]
    except ValueError as error:
        problems.append(f"{where}: {template!r}: {error}")
        return []


def _pick_distinct(rng: random.Random, pool: Sequence, count: int, avoid: Sequence = ()) -> list:
    return rng.sample([item for item in pool if item not in avoid], count)


def make_persona(rng: random.Random, language: str) -> dict[str, str]:
    """Every value a conversation's templates may use, drawn from the language's persona banks."""
    return _draw_persona(rng, language, language_text(language).persona)


def _draw_persona(
    rng: random.Random, language: str, banks: Mapping[str, Sequence]
) -> dict[str, str]:
    """`make_persona` from the banks given (`check_text` draws one from a file being checked)."""
    es = language == "es"
    gender = rng.choice("fm")
    names_f, names_m = banks["names_f"], banks["names_m"]
    surnames = banks["surnames"]
    cities = banks["cities"]
    months = banks["months"]
    p: dict[str, str] = {}
    used_names: set[str] = set()

    def person(sex: str) -> str:
        name = rng.choice([n for n in (names_f if sex == "f" else names_m) if n not in used_names])
        used_names.add(name)
        return name

    p["first"] = person(gender)
    p["last"] = rng.choice(surnames)
    p["full"] = f"{p['first']} {p['last']}"
    p["o"] = "a" if gender == "f" else "o"

    city, new_city, other_city = _pick_distinct(rng, cities, 3)
    p.update(city=city, new_city=new_city, other_city=other_city)

    if es:
        job_m, job_f = rng.choice(banks["jobs"])
        p.update(job=job_f if gender == "f" else job_m, job_m=job_m, job_f=job_f)
        companies = [f"{k} {n}" for k in banks["company_kinds"] for n in banks["company_names"]]
    else:
        p["job"] = rng.choice(banks["jobs"])
        p["a_job"] = ("an " if p["job"][0] in "aeiou" else "a ") + p["job"]
        companies = [f"{n} {k}" for n in banks["company_names"] for k in banks["company_kinds"]]
    company = rng.choice(companies)
    company_name = company.split()[1] if es else company.split()[0]
    new_company = rng.choice([c for c in companies if company_name not in c])
    p.update(company=company, new_company=new_company)

    if es:
        (species, un, _el, _plural), new = _pick_distinct(rng, banks["species"], 2)
        p.update(species=species, un_species=f"{un} {species}")
        p.update(new_species=new[0], un_new_species=f"{new[1]} {new[0]}")
        pet, new_pet = _pick_distinct(rng, banks["pet_names"], 2)
    else:
        species, new_species = _pick_distinct(rng, banks["species"], 2)
        p.update(species=species, a_species=f"a {species}", new_species=new_species)
        p["a_new_species"] = f"a {new_species}"
        pet, new_pet = _pick_distinct(rng, banks["pet_names"], 2)
    p.update(pet=pet, new_pet=new_pet)

    rel, rel_sex = rng.choice(banks["partners"])
    p.update(rel=rel, partner=person(rel_sex))
    # Another couple's partner, in the distractors: "El marido de mi compañera", "My colleague's wife".
    p["rel_other"] = ("novio" if rel.startswith("novi") else "marido") if es else rel

    child_sex = rng.choice("fm")
    p["child"] = person(child_sex)
    p["child_age"] = str(rng.randint(3, 16))
    p["small_number"] = rng.choice(["cinco", "seis", "siete"] if es else ["five", "six", "seven"])
    if es:
        p["child_rel"] = "hija" if child_sex == "f" else "hijo"
        p["el_child_rel_cap"] = "La hija" if child_sex == "f" else "El hijo"
        p["child_syn"] = "niña" if child_sex == "f" else "niño"
        p["el_child_syn"] = "la peque" if child_sex == "f" else "el peque"
        p["un_child_syn"] = "una niña" if child_sex == "f" else "un niño"
        p["child_o"] = "a" if child_sex == "f" else "o"
    else:
        p["child_rel"] = "daughter" if child_sex == "f" else "son"

    sib_sex = rng.choice("fm")
    p["sibling"] = person(sib_sex)
    same_city = rng.random() < 0.3
    p["sibling_city"] = (
        city
        if same_city
        else rng.choice([c for c in cities if c not in (city, new_city, other_city)])
    )
    if es:
        p["sib_rel"] = "hermana" if sib_sex == "f" else "hermano"
        p["una_sib_rel"] = "una hermana" if sib_sex == "f" else "un hermano"
        p["sib_plural"] = "hermanas" if sib_sex == "f" else "hermanos"
        p["same_city"] = "Sí" if same_city else "No"
    else:
        p["sib_rel"] = "sister" if sib_sex == "f" else "brother"
        p["sib_plural"] = "sisters" if sib_sex == "f" else "brothers"
        p["same_city"] = "Yes" if same_city else "No"

    if es:
        p["allergen"], p["a_allergen"] = rng.choice(banks["allergens"])
        p["allergic"] = "alérgica" if gender == "f" else "alérgico"
    else:
        p["allergen"] = rng.choice(banks["allergens"])

    bday_month, other_month = _pick_distinct(rng, months, 2)
    p.update(bday_day=str(rng.randint(1, 28)), bday_month=bday_month, other_month=other_month)
    same_month = rng.random() < 0.3
    p["trip_month"] = (
        bday_month if same_month else rng.choice([m for m in months if m != bday_month])
    )
    p["same_month"] = ("Sí" if es else "Yes") if same_month else "No"

    makes, colours = banks["makes"], banks["colours"]
    make, new_make = _pick_distinct(rng, makes, 2)
    colour, new_colour = rng.choice(colours), rng.choice(colours)
    p.update(make=make, colour=colour, new_make=new_make, new_colour=new_colour)
    if not es:
        p["a_car"] = ("an " if colour[0] in "aeiou" else "a ") + f"{colour} {make}"
        p["a_new_car"] = ("an " if new_colour[0] in "aeiou" else "a ") + f"{new_colour} {new_make}"

    hobby, other_hobby = _pick_distinct(rng, banks["hobbies"], 2)
    p.update(hobby=hobby, other_hobby=other_hobby)
    p["food"] = rng.choice(banks["foods"])
    p["degree"] = rng.choice(banks["degrees"])
    p["uni"] = rng.choice(banks["universities"])
    p["project"] = rng.choice(banks["projects"])
    p["dest"] = rng.choice(banks["destinations"])
    p["locker"] = str(rng.randint(101, 899))
    p["bus"] = str(rng.randint(10, 99))
    language_learnt, other_language = _pick_distinct(rng, banks["languages"], 2)
    p.update(language=language_learnt, other_language=other_language)
    if es:
        team, rival = _pick_distinct(rng, banks["teams"], 2)
        p.update(team=team[0], del_team=team[1], el_team=team[2], del_rival=rival[1])
    else:
        p["team"], p["rival"] = _pick_distinct(rng, banks["teams"], 2)
    return p


# --------------------------------------------------------------------------------------------------
# Filler: everyday requests and chat, from templates and word banks.


def render(template: str, values: dict[str, str]) -> tuple[str, str]:
    """Fill a planted sentence; return the text and the fact it marks with [brackets]."""
    text = template.format(**values)
    start = text.find("[")
    if start < 0:
        raise ValueError(f"no [fact] marked in template {template!r}")
    end = text.index("]", start)
    fact = text[start + 1 : end]
    return text[:start] + fact + text[end + 1 :], fact


CHAT_SHARE = 0.08  # share of filler turns that are remarks rather than requests
ACK_SHARE = 0.02  # share that are one-line acknowledgements


def _fill(
    rng: random.Random, template: str, banks: dict[str, tuple[str, ...]], persona: dict[str, str]
) -> str:
    values: dict[str, str] = {}
    for _, name, _, _ in _FORMATTER.parse(template):
        if not name or name in persona or name in values:
            continue
        base = name.rstrip("0123456789")
        if base == "appliance_cap":
            value = rng.choice(banks["appliance"])
            values[name] = value[0].upper() + value[1:]
            continue
        taken = {v for k, v in values.items() if k.rstrip("0123456789") == base}
        values[name] = rng.choice([v for v in banks[base] if v not in taken])
    return template.format_map({**persona, **values})


def filler_message(
    rng: random.Random, language: str, persona: dict[str, str], used: Counter | None = None
) -> str:
    """One everyday message: a request (with an opener or a context sentence, and a closer), a
    remark, or a short acknowledgement. `used` counts templates already used in the conversation,
    so that none comes back before the others have had their turn."""
    text_of = language_text(language)
    draw = rng.random()
    if draw < ACK_SHARE:
        return rng.choice(text_of.acks)
    is_chat = draw < ACK_SHARE + CHAT_SHARE
    templates = text_of.chat if is_chat else text_of.filler
    used = Counter() if used is None else used
    # Least used first, ties in random order; a template whose filled text misses the length
    # range is skipped for another one.
    order = sorted(templates, key=lambda t: (used[t], rng.random()))
    for attempt in range(200):
        template = order[attempt % len(order)]
        body = _fill(rng, template, text_of.banks, persona)
        if is_chat:
            message = body
        else:
            if rng.random() < 0.65:
                lead = rng.choice(text_of.contexts) + " "
            else:
                lead = rng.choice(text_of.openers)
                if lead.endswith((", ", ": ")):
                    body = lower_first(body)
            message = lead + body + rng.choice(text_of.closers)
        if SHORT <= len(message) <= LONG:
            used[template] += 1
            return message
    raise RuntimeError(f"no {language} filler template fits {SHORT}-{LONG} characters")


def lower_first(text: str) -> str:
    """The text as it reads after "Oye, " or "By the way, ": first letter lower case."""
    if text.startswith(("I ", "I'")):
        return text
    if text[0] in "¿¡":
        return text[0] + text[1].lower() + text[2:]
    return text[0].lower() + text[1:]


def ask(rng: random.Random, language: str, question: str) -> str:
    """A question as a user would type it: sometimes with an opener in front."""
    opener = rng.choice(language_text(language).question_openers)
    return opener + lower_first(question) if opener else question


# --------------------------------------------------------------------------------------------------
# Assembly.

UPDATABLE = ("city", "job", "pet", "car")


@dataclass
class _Plan:
    kind: str
    slots: tuple[str, ...]
    multi: MultiText | None = None


def _plan_questions(
    rng: random.Random, language: str, pattern: tuple[int, ...]
) -> list[_Plan] | None:
    """Choose which facts each question asks about; None when this draw does not fit."""
    slots_text: dict[str, SlotText] = language_text(language).slots
    n_inflected, n_paraphrase, n_synonym, n_multi, n_update = pattern
    plans: list[_Plan] = []
    updated = rng.sample(UPDATABLE, n_update)
    used = set(updated)
    plans += [_Plan("update", (slot,)) for slot in updated]
    multis = list(language_text(language).multi)
    rng.shuffle(multis)
    for multi in multis:
        if sum(p.kind == "multi" for p in plans) == n_multi:
            break
        if used.isdisjoint(multi.slots):
            plans.append(_Plan("multi", multi.slots, multi))
            used.update(multi.slots)
    if sum(p.kind == "multi" for p in plans) < n_multi:
        return None
    for kind, count in (
        ("inflected", n_inflected),
        ("synonym", n_synonym),
        ("paraphrase", n_paraphrase),
    ):
        candidates = [s for s, t in slots_text.items() if s not in used and getattr(t, kind)]
        if len(candidates) < count:
            return None
        for slot in rng.sample(candidates, count):
            plans.append(_Plan(kind, (slot,)))
            used.add(slot)
    return plans


def make_conversation(index: int, turns: int = 320, seed: int = DEFAULT_SEED) -> Conversation:
    """Conversation number `index` of the set (even: Spanish, odd: English)."""
    if turns < MIN_TURNS:
        raise ValueError(f"a conversation needs at least {MIN_TURNS} turns, not {turns}")
    language = LANGUAGES[index % 2]
    rng = random.Random(f"{seed}:{index}")
    text_of = language_text(language)
    slots_text: dict[str, SlotText] = text_of.slots
    persona = make_persona(rng, language)
    pattern = KIND_PATTERNS[(index // 2) % len(KIND_PATTERNS)]
    while (plans := _plan_questions(rng, language, pattern)) is None:
        pass

    messages: list[str | None] = [None] * turns
    fact_turn: dict[str, tuple[int, str]] = {}  # slot -> (turn, fact) of its newest statement

    plant_end = int(turns * PLANT_END)
    slot_names = list(slots_text)
    for slot, at in zip(slot_names, rng.sample(range(1, plant_end), len(slot_names)), strict=True):
        text, fact = render(rng.choice(slots_text[slot].plants), persona)
        messages[at] = text
        fact_turn[slot] = (at, fact)

    free = [i for i in range(int(turns * UPDATE_ZONE[0]), int(turns * UPDATE_ZONE[1]))]
    for plan in plans:
        if plan.kind == "update":
            slot = plan.slots[0]
            at = rng.choice([i for i in free if messages[i] is None])
            text, fact = render(rng.choice(text_of.updates[slot].statements), persona)
            messages[at] = text
            fact_turn[slot] = (at, fact)

    question_start = math.ceil(turns * QUESTION_START)
    question_turns = sorted(rng.sample(range(question_start, turns), len(plans)))
    rng.shuffle(plans)
    questions: list[Question] = []
    for at, plan in zip(question_turns, plans, strict=True):
        if plan.kind == "update":
            update = text_of.updates[plan.slots[0]]
            template, answer = rng.choice(update.questions), update.answer
        elif plan.kind == "multi":
            assert plan.multi is not None
            template, answer = rng.choice(plan.multi.questions), plan.multi.answer
        else:
            slot_text = slots_text[plan.slots[0]]
            template, answer = rng.choice(getattr(slot_text, plan.kind)), slot_text.answer
        text = ask(rng, language, template.format(**persona))
        evidence = sorted(fact_turn[slot] for slot in plan.slots)
        messages[at] = text
        questions.append(
            Question(
                at=at,
                text=text,
                evidence=[turn for turn, _ in evidence],
                facts=[fact for _, fact in evidence],
                answer=answer.format(**persona),
                kind=plan.kind,
            )
        )

    facts = [fact for _, fact in fact_turn.values()]
    open_turns = [i for i in range(plant_end, turns) if messages[i] is None]
    distractor_texts = []
    for slot_text in slots_text.values():
        count = min(len(slot_text.distractors), rng.choice((1, 2, 2)))
        for template in rng.sample(slot_text.distractors, count):
            distractor_texts.append(template.format(**persona))
    keep = min(len(distractor_texts), math.ceil(len(distractor_texts) * turns / 320))
    distractor_texts = (
        rng.sample(distractor_texts, keep) if keep < len(distractor_texts) else distractor_texts
    )
    for at, text in zip(
        rng.sample(open_turns, len(distractor_texts)), distractor_texts, strict=True
    ):
        messages[at] = text

    used: Counter = Counter()
    for i, message in enumerate(messages):
        if message is None:
            text = filler_message(rng, language, persona, used)
            while any(fact in text for fact in facts):
                text = filler_message(rng, language, persona, used)
            messages[i] = text

    conversation_id = f"{language}-{index // 2 + 1:02d}"
    return Conversation(
        conversation_id, language, [m for m in messages if m is not None], questions
    )


def make_conversations(
    count: int = 24, turns: int = 320, seed: int = DEFAULT_SEED
) -> list[Conversation]:
    """`count` conversations, alternately Spanish and English, each of `turns` user turns."""
    return [make_conversation(index, turns, seed) for index in range(count)]


# --------------------------------------------------------------------------------------------------
# Invariants.


def validate(conversations: Sequence[Conversation]) -> None:
    """Check the set's invariants; raise ValueError listing every violation."""
    problems: list[str] = []
    languages = {c.language for c in conversations}
    if len(conversations) >= 2 and languages != set(LANGUAGES):
        problems.append(f"languages {sorted(languages)}, expected both of {LANGUAGES}")
    for c in conversations:
        n = len(c.turns)
        where = c.id
        if n < MIN_TURNS:
            problems.append(f"{where}: {n} turns, fewer than {MIN_TURNS}")
        in_range = sum(SHORT <= len(t) <= LONG for t in c.turns)
        # Planted facts, distractors and questions are shorter and their number does not shrink
        # with the conversation, so reduced runs (fewer turns) are held to a lower share.
        if in_range < (0.8 if n >= FULL_TURNS else 0.5) * n:
            problems.append(f"{where}: only {in_range}/{n} messages are {SHORT}-{LONG} characters")
        if too_long := [i for i, t in enumerate(c.turns) if len(t) > 2 * LONG or not t.strip()]:
            problems.append(f"{where}: empty or overlong messages at {too_long[:5]}")
        if not c.questions:
            problems.append(f"{where}: no questions")
        problems += question_problems(c, KINDS, QUESTION_START)
    if problems:
        raise ValueError(
            f"{len(problems)} problems in the conversation set:\n" + "\n".join(problems[:50])
        )


def question_problems(c: Conversation, kinds: Sequence[str], start: float) -> list[str]:
    """What is wrong with a conversation's questions: each must be a turn of the last part, with
    facts that occur in its evidence turns, in no other earlier turn and not in the question."""
    problems: list[str] = []
    n = len(c.turns)
    if len({q.at for q in c.questions}) != len(c.questions):
        problems.append(f"{c.id}: two questions on one turn")
    for q in c.questions:
        tag = f"{c.id} turn {q.at}"
        if q.kind not in kinds:
            problems.append(f"{tag}: unknown kind {q.kind!r}")
        if not (start * n <= q.at < n):
            problems.append(f"{tag}: question outside the last {1 - start:.0%}")
            continue
        if c.turns[q.at] != q.text:
            problems.append(f"{tag}: text differs from the turn")
        if not q.evidence or len(q.evidence) != len(q.facts):
            problems.append(f"{tag}: evidence and facts do not pair up")
            continue
        if q.kind == "multi" and len(set(q.evidence)) < 2:
            problems.append(f"{tag}: a multi question needs two evidence turns")
        for turn, fact in zip(q.evidence, q.facts, strict=True):
            if not 0 <= turn < q.at:
                problems.append(f"{tag}: evidence turn {turn} does not precede the question")
                continue
            if not fact or fact not in c.exchange(turn):
                problems.append(f"{tag}: fact {fact!r} not in evidence turn {turn}")
            if fact in q.text or c.exchange(turn) in q.text:
                problems.append(f"{tag}: the question contains its planted sentence")
            elsewhere = [i for i in range(q.at) if i != turn and fact in c.exchange(i)]
            if elsewhere:
                problems.append(f"{tag}: fact {fact!r} also occurs in turns {elsewhere[:5]}")
    return problems


def describe(conversations: Sequence[Conversation]) -> dict:
    """Size and mix of the set, for reports."""
    questions = [q for c in conversations for q in c.questions]
    lengths = [len(t) for c in conversations for t in c.turns]
    echoed_tokens = [2 * sum(len(t) for t in c.turns) / 4 for c in conversations]
    return {
        "conversations": len(conversations),
        "languages": dict(Counter(c.language for c in conversations)),
        "turns": sorted({len(c.turns) for c in conversations}),
        "questions": len(questions),
        "kinds": {kind: sum(q.kind == kind for q in questions) for kind in KINDS},
        "message_chars": {
            "mean": round(sum(lengths) / len(lengths), 1),
            "share_80_220": round(sum(SHORT <= n <= LONG for n in lengths) / len(lengths), 3),
            "min": min(lengths),
            "max": max(lengths),
        },
        "echoed_tokens_per_conversation": {
            "min": round(min(echoed_tokens)),
            "mean": round(sum(echoed_tokens) / len(echoed_tokens)),
            "max": round(max(echoed_tokens)),
        },
        "distinct_words": len(
            {w.lower() for c in conversations for t in c.turns for w in t.split()}
        ),
    }


def main() -> None:
    conversations = make_conversations()
    validate(conversations)
    print(json.dumps(describe(conversations), indent=2, ensure_ascii=False))
    for language in LANGUAGES:
        conversation = next(c for c in conversations if c.language == language)
        print(f"\n## {conversation.id}")
        for q in conversation.questions:
            print(f"\n[{q.kind}] turn {q.at}: {q.text}\n  answer: {q.answer}")
            for turn, fact in zip(q.evidence, q.facts, strict=True):
                print(f"  turn {turn}: {conversation.turns[turn]}\n    fact: {fact!r}")


if __name__ == "__main__":
    main()
