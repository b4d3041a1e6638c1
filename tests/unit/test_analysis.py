"""Text analysis for full-text recall: folding, terms, stop words, stems, detection, highlighting."""

from __future__ import annotations

import re
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from importlib import resources

import pytest
import Stemmer

from memoria import analysis
from memoria.analysis import (
    ANALYZER_VERSION,
    Analyzer,
    analyzer,
    detect_language,
    excerpt,
    fold,
    highlight,
    snippet,
    stop_words,
)

ES = analyzer("es")
EN = analyzer("en")


def stem(language: str, word: str) -> str:
    (term,) = analyzer(language).terms(word)
    return term


def allowed(term: str) -> bool:
    """[0-9a-z], or a letter of a non-Latin script."""
    return all(
        ("a" <= char <= "z" or "0" <= char <= "9")
        if char.isascii()
        else char.isalpha() and not unicodedata.name(char, "").startswith("LATIN")
        for char in term
    )


# -- folding -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Bogotá", "bogota"),
        ("ÑANDÚ y pingüino", "nandu y pinguino"),
        ("Über Straße", "uber strasse"),
        ("¿Información?", "¿informacion?"),
        ("Øresund Æther", "oresund aether"),
        ("ﬁn ㎒ Ｆｕｌｌ", "fin mhz full"),
        ("٣٤ apples", "34 apples"),
        ("Москва Ёлка", "москва елка"),
        ("infor\u00admación", "informacion"),  # soft hyphen
        ("Bogota\u0301", "bogota"),  # decomposed input
    ],
)
def test_fold(text, folded):
    assert fold(text) == folded


def test_fold_is_idempotent_and_keeps_ascii_punctuation():
    for text in ["Ça va? «Sí», dijo—él.", "Ǆemal İstanbul ΣΊΣΥΦΟΣ", 'a "b" (c) *d*']:
        assert fold(fold(text)) == fold(text)
    assert fold('a "b" (c) *d* -e: f') == 'a "b" (c) *d* -e: f'


def test_accents_fold_both_ways():
    for accented, plain in [
        ("información", "informacion"),
        ("Bogotá", "bogota"),
        ("años", "anos"),
        ("vivía", "vivia"),
        ("viviré", "vivire"),
        ("canción", "CANCION"),
    ]:
        assert ES.terms(accented) == ES.terms(plain), (accented, plain)
    assert EN.terms("café résumé naïve") == EN.terms("cafe resume naive")
    assert ES.terms("información") == ["inform"]


# -- words, numbers, stop words --------------------------------------------------------------------


def test_words_numbers_and_single_characters():
    assert EN.terms("wi-fi") == ["wi", "fi"]
    assert ES.terms("En 1986 compré 5 perros y 2 gatos") == [
        "1986",
        "compr",
        "5",
        "perr",
        "2",
        "gat",
    ]
    assert EN.terms("x y z 7 mp3 covid_19") == ["7", "mp3", "covid", "19"]
    assert EN.terms("") == [] and EN.terms("   ...  ") == []


def test_stop_words_dropped_in_both_languages():
    assert ES.terms("el perro de la casa que estaba en el jardín") == ["perr", "cas", "jardin"]
    assert ES.terms("Nosotros habíamos estado allí también, tenía sed") == ["all", "sed"]
    assert EN.terms("the dog and the cat were with them in the garden") == ["dog", "cat", "garden"]


def test_content_words_are_not_stop_words():
    # Lists such as the PyPI stop-words packages drop these; the Snowball lists keep them.
    assert EN.terms("name work year") == ["name", "work", "year"]
    assert ES.terms("trabajo nombre año") == ["trabaj", "nombr", "ano"]


def test_stop_lists_are_snowballs_folded_package_data():
    english, spanish = stop_words("en"), stop_words("es")
    assert len(english) == 127 and len(spanish) == 306
    assert {"the", "and", "with", "ourselves", "don"} <= english
    assert {"el", "que", "mas", "estaria", "hubieseis", "tuvieramos"} <= spanish
    assert all(fold(word) == word for word in english | spanish)
    for name in ("english", "spanish"):
        text = resources.files("memoria").joinpath("stopwords", f"{name}.txt").read_text("utf-8")
        header = text.splitlines()[0]
        assert header.startswith("#") and "snowballstem.org" in header and "BSD" in header


# -- stems ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("es", ["vivo", "vivía", "viviré", "vivir", "vivió", "vivia", "vivire"]),
        ("es", ["perro", "perros"]),
        ("es", ["mudé", "mudarme", "mudó", "mude"]),
        ("es", ["comería", "comí", "comer", "comeria"]),
        ("es", ["información", "informacion", "informaciones"]),
        ("en", ["allergy", "allergies"]),
        ("en", ["moved", "moving", "move"]),
        ("en", ["cities", "city"]),
    ],
)
def test_inflected_forms_share_a_stem(language, words):
    stems = {word: stem(language, word) for word in words}
    assert len(set(stems.values())) == 1, stems


def test_unrelated_words_keep_distinct_stems():
    assert stem("es", "hermano") != stem("es", "hermoso")
    assert stem("es", "perro") != stem("es", "pera")
    assert stem("en", "city") != stem("en", "cite")


def test_query_terms_are_distinct_in_first_appearance_order():
    text = "Perros, perro y PERROS: el perro vive en Bogotá; los perros viven bien"
    assert ES.terms(text).count("perr") == 5
    assert ES.query_terms(text) == ["perr", "viv", "bogot", "bien"]


# -- what terms may contain -----------------------------------------------------------------------

HOSTILE = [
    '"quoted phrase" AND "other"',
    "prefix* OR (grouped -excluded) NEAR(a b, 3)",
    "column:value ^start {x y} a+b a|b !c &d <-> 'single' `back` ~tilde @at #hash $5 %",
    'Quiero "comillas" AND operadores OR NEAR(perro gato) NOT -menos: sí',
    "\\backslash\\ / slash; semi, comma. dot… «guillemets» “curly” ‘quotes’ — dash",
    "emoji 😊👍🏽 ❤️ and tabs\tand\nnewlines\u00a0nbsp\u200bzwsp",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_terms_hold_only_safe_characters(text):
    for language_analyzer in (ES, EN):
        terms = language_analyzer.terms(text)
        assert terms, text
        assert all(re.fullmatch(r"[0-9a-z]+", term) for term in terms), terms


def test_operator_words_become_ordinary_lowercase_terms_in_spanish():
    terms = ES.terms("perro AND gato OR ratón NEAR casa NOT")
    assert terms == ["perr", "and", "gat", "or", "raton", "near", "cas", "not"]
    # In English "and", "or", "not" are stop words.
    assert EN.terms("dogs AND cats OR mice NEAR NOT") == ["dog", "cat", "mice", "near"]


def test_other_scripts_survive_as_letters():
    terms = EN.terms("Москва 東京タワー Ελλάδα øre")
    assert terms == ["москва", "東京タワー", "ελλαδα", "ore"]
    assert all(allowed(term) for term in terms)


def test_no_character_leaks_into_terms():
    # Every character from U+0080 to U+2FFF and a sample of the rest, between letters.
    code_points = [*range(0x80, 0x3000), *range(0x3000, 0x30000, 37), *range(0xE0000, 0xE0200, 7)]
    for code_point in code_points:
        if 0xD800 <= code_point <= 0xDFFF:
            continue
        char = chr(code_point)
        for term in ES.terms(f"xx{char}{char}yy {char}z"):
            assert allowed(term), (hex(code_point), term)


def test_fast_and_general_paths_give_the_same_words():
    # _tokens splits bytes for text that folds to ASCII; the general path goes through fold().
    for code_point in [*range(0x80, 0x2100), *range(0x2100, 0x30000, 53)]:
        if 0xD800 <= code_point <= 0xDFFF:
            continue
        char = chr(code_point)
        for text in (f"ab{char}cd Ée{char}", f"{char}{char}x {char}"):
            expected = [w for w in re.findall(r"[^\W_]+", fold(text)) if len(w) > 1 or w.isascii()]
            assert analysis._tokens(text) == expected, hex(code_point)


# -- analyzers ------------------------------------------------------------------------------------


def test_analyzers_are_cached_per_language():
    assert analyzer("es") is analyzer("es-MX") is analyzer("Spanish") is ES
    assert analyzer("en_GB") is EN
    assert isinstance(ES, Analyzer) and ES.language == "es"
    with pytest.raises(ValueError, match="unsupported language"):
        analyzer("fr")


def test_analyzer_version_names_the_stemmer():
    assert isinstance(ANALYZER_VERSION, str)
    assert f"pystemmer-{Stemmer.version()}" in ANALYZER_VERSION
    assert ANALYZER_VERSION.startswith("memoria-analysis-")


def test_terms_are_the_same_across_threads():
    texts = [f"Vivía en Bogotá con {n} perros y moved to {n} cities" for n in range(200)]
    expected = [ES.terms(text) + EN.terms(text) for text in texts]
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(lambda text: ES.terms(text) + EN.terms(text), texts))
    assert got == expected


# -- language detection ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Hola, necesito ayuda con el wifi", "es"),
        ("Hi, I need help with my wifi", "en"),
        ("¿Dónde está?", "es"),
        ("¿Qué tal?", "es"),
        ("What is the capital of France?", "en"),
        (
            "Ayer hablé con mi hermana sobre la mudanza a Bogotá. Dice que los perros se adaptaron "
            "bien, aunque el apartamento es pequeño y el wifi no funciona desde el martes.",
            "es",
        ),
        (
            "Yesterday I talked to my sister about the move to Bogota. She says the dogs have "
            "settled in well, although the flat is small and the wifi has not worked since Tuesday.",
            "en",
        ),
        ("Hola! I need help with the router, it is broken since the update de ayer", "en"),
        ("Necesito ayuda con el router de mi casa, it is broken", "es"),
    ],
)
def test_detect_language(text, language):
    assert detect_language(text) == language


@pytest.mark.parametrize("text", ["ok", "", "Hola", "wifi", "the cat", "🙂", "1986"])
def test_detect_language_needs_evidence(text):
    assert detect_language(text) is None


def test_detect_language_returns_none_on_a_tie():
    assert detect_language("the el with con") is None


# -- highlight, snippet, excerpt ------------------------------------------------------------------


def test_highlight_wraps_matched_words_and_keeps_accents():
    text = "Viví en Bogotá con mis perros; el perro se llama Ñandú."
    terms = ES.query_terms("perro bogota nandu")
    assert highlight(text, terms, "es") == (
        "Viví en [Bogotá] con mis [perros]; el [perro] se llama [Ñandú]."
    )
    assert highlight(text, terms, "es", start="<b>", end="</b>").count("<b>") == 4
    assert highlight(text, ["gat"], "es") == text


def test_highlight_in_english_and_on_split_words():
    text = "My allergies got worse when I moved; the wi-fi was down."
    terms = EN.query_terms("allergy move wifi fi")
    assert highlight(text, terms, "en") == (
        "My [allergies] got worse when I [moved]; the wi-[fi] was down."
    )


FILLER_ES = "Esta es una frase de relleno sobre otra cosa distinta. "


def test_snippet_short_text_is_whole_and_highlighted():
    assert snippet("El perro  vive\nen Bogotá.", ES.query_terms("perro"), "es") == (
        "El [perro] vive en Bogotá."
    )


def test_snippet_windows_the_densest_cluster():
    text = (
        "Un perro cualquiera. "
        + FILLER_ES * 6
        + "Mi perro Toby vive en Bogotá con mi hermana. "
        + FILLER_ES * 6
    )
    out = snippet(text, ES.query_terms("perro Bogotá"), "es", width=80)
    assert out.startswith("…") and out.endswith("…")
    assert "[perro] Toby vive en [Bogotá]" in out
    assert "cualquiera" not in out
    assert len(out) <= 80 + 2 * len("[]") + 2
    inner = out.strip("…")
    assert text.find(inner.replace("[", "").replace("]", "")) > 0  # whole words, from the text


def test_snippet_without_matches_is_the_start_of_the_text():
    text = FILLER_ES * 5
    out = snippet(text, ES.query_terms("gato"), "es", width=60)
    assert out.startswith("Esta es una frase") and out.endswith("…") and "[" not in out
    assert len(out) <= 61
    assert not out[:-1].endswith(" ")


def test_excerpt_short_text_is_returned_whole():
    text = "Mi perro vive en Bogotá.\nNada más."
    assert excerpt(text, ES.query_terms("perro"), "es", max_chars=200) == text


def test_excerpt_keeps_matching_sentences_in_order():
    text = (
        "Me mudé a Bogotá en 1986. "
        + FILLER_ES * 4
        + "Allí conocí a mi perro Toby. "
        + FILLER_ES * 4
        + "Toby murió en 2001, en Bogotá."
    )
    out = excerpt(text, ES.query_terms("Bogotá perro"), "es", max_chars=150)
    assert out == (
        "Me mudé a Bogotá en 1986. … Allí conocí a mi perro Toby. … Toby murió en 2001, en Bogotá."
    )
    assert len(out) <= 150


def test_excerpt_joins_adjacent_sentences_without_a_gap_mark():
    text = FILLER_ES * 4 + "Mi perro se llama Toby. Vive en Bogotá desde 1986.\n" + FILLER_ES * 4
    out = excerpt(text, ES.query_terms("perro Bogotá"), "es", max_chars=100)
    assert out == "… Mi perro se llama Toby. Vive en Bogotá desde 1986. …"


def test_excerpt_prefers_sentences_with_more_terms_when_space_is_short():
    text = (
        FILLER_ES * 3
        + "El perro ladra. "
        + FILLER_ES * 3
        + "El perro de Bogotá ladra mucho. "
        + FILLER_ES * 3
    )
    out = excerpt(text, ES.query_terms("perro Bogotá"), "es", max_chars=40)
    assert out == "… El perro de Bogotá ladra mucho. …"


def test_excerpt_without_matches_is_the_start_and_cuts_a_long_sentence():
    text = FILLER_ES * 10
    out = excerpt(text, ES.query_terms("gato"), "es", max_chars=70)
    assert out.startswith("Esta es una frase de relleno") and out.endswith("…")
    assert len(out) <= 70

    sentence = "palabra " * 40 + "el gato negro " + "palabra " * 40
    out = excerpt(sentence, ES.query_terms("gato"), "es", max_chars=60)
    assert "gato negro" in out and out.startswith("…") and out.endswith("…")
    assert len(out) <= 60
