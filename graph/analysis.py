"""Text analysis for full-text recall: fold, split, drop stop words, stem.

Memoria indexes every archived turn in the database's own full-text engine: SQLite FTS5 (ranked by
bm25) or Postgres (a ``tsvector`` ranked by ``ts_rank_cd``). The two engines analyse text very
differently (FTS5's ``unicode61``/``porter`` tokenizers know no Spanish; Postgres has Snowball
dictionaries but its own parser, ``unaccent`` is an extension that may be missing, and the result
depends on the server's configuration). So the analysis happens here, in Python, and both engines
index and query the resulting space-separated *terms* verbatim (FTS5 with a plain tokenizer, Postgres
with the ``simple`` configuration). The same text gives the same terms on both engines, on every
machine, and the engines only count and rank.

The pipeline, identical at index time and at query time:

1. :func:`fold` the text: casefold, Unicode NFKD, drop combining marks ("Bogotá" → "bogota",
   "ñ" → "n"), map the few Latin letters NFKD leaves alone ("ø" → "o", "æ" → "ae") and other
   scripts' digits to ASCII. Folding comes *before* stemming, so "información" and "informacion"
   (people often type without accents, the model writes with them) give the same stem.
2. Split into runs of letters and digits ("wi-fi" → "wi", "fi"; "1986" is kept); drop single
   characters except digits.
3. Drop the language's stop words: the Snowball lists (snowballstem.org, BSD licence) as PostgreSQL
   ships them, folded like the text, stored in ``stopwords/*.txt`` beside this module.
4. Stem with Snowball (PyStemmer, the C implementation), English or Spanish.

The Spanish Snowball stemmer reads accents: it removes "-ía", "-ió", "-iré" but not "-ia", "-io",
"-ire". Fed folded words it would keep "vivia" → "vivi" and "vivire" → "vivir" apart from
"vivo" → "viv". :class:`Analyzer` therefore finishes folded Spanish stems: a stem left ending in
"i" loses it ("vivi", "comi", "famili" → "viv", "com", "famil"), and a stem that is still an
infinitive after a conditional ("-ria") or a first-person future ("-re") is stemmed once more
("comer" → "com"). Measured on the 50,000 commonest Spanish words, this keeps 99.7% (by
frequency) of the conflations that Snowball makes on correctly accented text, where plain
fold-then-stem keeps 99.0%, and what it merges beyond Snowball is mostly accentless spellings
("tenia" with "tenía") and verb forms.

A term contains only ``[0-9a-z]`` and letters of non-Latin scripts that survive folding (Cyrillic,
Greek, CJK...): never quotes, operators or punctuation, so terms can be placed inside FTS5 MATCH
and Postgres tsquery strings as they are. Uppercase operator words ("AND", "OR", "NEAR") come out
as ordinary lowercase terms (or are dropped as English stop words).

:data:`ANALYZER_VERSION` changes whenever the output could change (this module's rules, PyStemmer,
the Unicode tables, the stop lists): an index built with another version must be rebuilt.

Highlighting (:func:`highlight`, :func:`snippet`, :func:`excerpt`) is for display and works on the
original text, accents kept: each original word is analysed on its own and compared with the terms.
"""

from __future__ import annotations

import functools
import hashlib
import re
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from importlib import resources

import Stemmer

from memoria.presets import ANALYSIS_RULES

__all__ = [
    "ANALYZER_VERSION",
    "ELLIPSIS",
    "LANGUAGES",
    "Analyzer",
    "analyzer",
    "detect_language",
    "excerpt",
    "fold",
    "highlight",
    "join_sentences",
    "sentence_spans",
    "snippet",
    "stop_words",
]

#: Bump (`memoria.presets.ANALYSIS_RULES`) when this module's rules change in a way that changes
#: terms.
_RULES_VERSION = str(ANALYSIS_RULES)

#: Supported languages: ISO 639-1 code -> Snowball algorithm and stop-word file.
LANGUAGES: dict[str, str] = {"en": "english", "es": "spanish"}

_LANGUAGE_ALIASES = {
    "english": "en",
    "eng": "en",
    "ingles": "en",
    "spanish": "es",
    "spa": "es",
    "espanol": "es",
    "castellano": "es",
}

# --------------------------------------------------------------------------------------------
# Folding
# --------------------------------------------------------------------------------------------

# Characters folding always drops, removed in one C-level pass: the combining marks that accents,
# diacritics and emoji presentation use (U+0300-U+036F and the other generic combining blocks,
# variation selectors), the soft hyphen, zero-width (non-)joiners, the word joiner and the BOM
# ("infor\u00admación" is one word).
_DROPPED = re.compile(
    "[\u0300-\u036f\u00ad\u1ab0-\u1aff\u1dc0-\u1dff\u200c\u200d\u2060\u20d0-\u20ff"
    "\ufe00-\ufe0f\ufe20-\ufe2f\ufeff]+"
)
# Runs of characters that may need a per-character decision after NFKD + casefold. ASCII, the rest
# of Latin-1's signs (U+0080-U+00BF, which NFKD leaves only as non-word signs such as "¿", "¡",
# "«", "»", "°") and General Punctuation (quotes, dashes, "…") never do.
_NEEDS_MAPPING = re.compile("[^\x00-\xbf\u2000-\u206f]+")

# Latin letters that NFKD does not decompose, folded by hand; other Latin letters are folded from
# their Unicode name ("LATIN SMALL LETTER D WITH HOOK" -> "d") or dropped.
_LATIN_LETTERS = {
    "ø": "o",
    "æ": "ae",
    "œ": "oe",
    "ł": "l",
    "đ": "d",
    "ð": "d",
    "þ": "th",
    "ŋ": "ng",
    "ı": "i",
    "ȷ": "j",
    "ĸ": "k",
    "ħ": "h",
    "ŧ": "t",
    "ƒ": "f",
    "ß": "ss",
    "ẞ": "ss",
}
_LATIN_NAME = re.compile(r"^LATIN (?:SMALL |CAPITAL )?(?:LETTER|LIGATURE) (.*?)(?: WITH .*)?$")

_char_cache: dict[str, str] = {}


def _fold_char(char: str) -> str:
    """Fold one non-ASCII character that survived NFKD + casefold."""
    folded = _char_cache.get(char)
    if folded is not None:
        return folded
    category = unicodedata.category(char)
    if category[0] == "M":  # any combining mark, in any script
        folded = ""
    elif category[0] == "N":
        # Other scripts' digits become ASCII digits; numerals that are not digits (Roman numeral
        # signs without a decomposition, "〇") become separators.
        folded = str(unicodedata.decimal(char)) if char.isdecimal() else " "
    elif category[0] == "L":
        name = unicodedata.name(char, "")
        if name.startswith("LATIN "):
            folded = _LATIN_LETTERS.get(char)
            if folded is None:
                match = _LATIN_NAME.match(name)
                letter = match.group(1).split()[-1] if match and match.group(1) else ""
                folded = letter.lower() if len(letter) <= 2 and letter.isascii() else ""
        elif name.startswith("MODIFIER LETTER "):  # "ʼ" and other apostrophe-like signs
            folded = " "
        else:  # a letter of another script: kept
            folded = char
    elif char in "\u00ad\u200c\u200d\u2060\ufeff":
        folded = ""
    else:  # punctuation, symbols, spaces: not word characters, kept as they are
        folded = char
    if len(_char_cache) < 65536:
        _char_cache[char] = folded
    return folded


@functools.lru_cache(maxsize=4096)
def _fold_run(run: str) -> str:
    return "".join(map(_fold_char, run))


def _fold_match(match: re.Match[str]) -> str:
    return _fold_run(match.group())


def _decompose(text: str) -> str:
    """NFKD, casefold, NFKD again, and drop the usual combining marks (C-level passes only)."""
    # NFKD first so that compatibility forms ("㎒" -> "MHz", "ﬁ" -> "fi") are casefolded too; NFKD
    # again in case casefolding composed anything (a quick check in C when it did not).
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    return _DROPPED.sub("", folded)


def fold(text: str) -> str:
    """Casefold, NFKD, drop combining marks: ``fold("Bogotá, ÑANDÚ") == "bogota, nandu"``.

    Latin letters without a decomposition are mapped ("ø" → "o", "æ" → "ae"), other scripts'
    digits become ASCII digits, letters of other scripts are kept (casefolded, marks dropped), and
    punctuation is left as it is. ``fold(fold(t)) == fold(t)``.
    """
    if text.isascii():
        return text.lower()
    folded = _decompose(text)
    if not folded.isascii():
        folded = _NEEDS_MAPPING.sub(_fold_match, folded)
    return folded


# --------------------------------------------------------------------------------------------
# Words, stop words, stemmers
# --------------------------------------------------------------------------------------------

# Every run of letters/digits (no underscore) of folded text.
_ANY_WORD = re.compile(r"[^\W_]+")
# ASCII bytes: letters lowercased, digits kept, everything else a space.
_BYTE_WORDS = bytes(
    byte if chr(byte).isalnum() and chr(byte).isascii() else 0x20 for byte in range(256)
).lower()
_ASCII_BYTES = bytes(range(128))
# What the fast path does with a non-ASCII character of casefolded, NFKD-decomposed text.
_DROP, _SEPARATE, _GENERAL = 0, 1, 2
_INVISIBLE = "\u00ad\u200c\u200d\u2060\ufeff"
_kind_cache: dict[str, int] = {}


def _kind(char: str) -> int:
    kind = _kind_cache.get(char)
    if kind is None:
        category = unicodedata.category(char)
        if char == "\u0345":  # combining ypogegrammeni: folding casefolds it to the letter iota
            kind = _GENERAL
        elif category[0] == "M" or char in _INVISIBLE or _DROPPED.match(char):
            kind = _DROP  # folding drops it
        elif category[0] in "LN":
            kind = _GENERAL  # a letter or digit that folding must look at ("ø", "д", "٣")
        else:
            kind = _SEPARATE  # punctuation, symbols, emoji, spaces, controls
        if len(_kind_cache) < 65536:
            _kind_cache[char] = kind
    return kind


def _non_ascii(text: str) -> str:
    """The non-ASCII characters of ``text``, in order (a few C-level passes)."""
    data = text.encode("utf-8", "surrogatepass").translate(None, _ASCII_BYTES)
    return data.decode("utf-8", "surrogatepass")


def _tokens(text: str) -> list[str]:
    """The words of ``fold(text)``: runs of letters and digits, split at anything else.

    Single ASCII characters are kept (the stop lists and language detection use them), single
    letters of other scripts are not. Text whose folded form is ASCII apart from marks,
    punctuation and symbols (nearly all Spanish and English, emoji included) takes a fast path
    that splits bytes in C, without regular expressions; other text ("ø", Cyrillic, CJK) takes
    the general path through :func:`fold`. Both give the same words.
    """
    if text.isascii():
        return text.encode().translate(_BYTE_WORDS).decode().split()
    # Casefold, then NFKD: the byte table lowercases any ASCII capital that NFKD brings out ("㎒").
    folded = unicodedata.normalize("NFKD", text.casefold())
    if not folded.isascii():
        for char in set(_non_ascii(folded)):
            kind = _kind(char)
            if kind == _SEPARATE:
                folded = folded.replace(char, " ")
            elif kind == _GENERAL:
                return _general_tokens(text)
    return folded.encode("ascii", "ignore").translate(_BYTE_WORDS).decode().split()


def _general_tokens(text: str) -> list[str]:
    """:func:`_tokens` for any text (the slow path)."""
    return [word for word in _ANY_WORD.findall(fold(text)) if len(word) > 1 or word.isascii()]


@functools.lru_cache(maxsize=64)
def _normalise_language(language: str) -> str:
    code = re.split(r"[-_]", fold(language.strip()), maxsplit=1)[0]
    code = _LANGUAGE_ALIASES.get(code, code)
    if code not in LANGUAGES:
        raise ValueError(
            f"unsupported language {language!r}: expected one of {', '.join(LANGUAGES)}"
        )
    return code


@functools.cache
def stop_words(language: str) -> frozenset[str]:
    """The folded Snowball stop words of ``language`` ("en" or "es")."""
    code = _normalise_language(language)
    resource = resources.files("memoria").joinpath("stopwords", f"{LANGUAGES[code]}.txt")
    lines = resource.read_text(encoding="utf-8").splitlines()
    return frozenset(
        fold(line.strip()) for line in lines if line.strip() and not line.startswith("#")
    )


_stemmers = threading.local()


def _stemmer(algorithm: str) -> Stemmer.Stemmer:
    """This thread's Snowball stemmer for ``algorithm`` (stemmer objects are not thread-safe)."""
    stemmer = getattr(_stemmers, algorithm, None)
    if stemmer is None:
        stemmer = Stemmer.Stemmer(algorithm)
        setattr(_stemmers, algorithm, stemmer)
    return stemmer


# Folded Spanish endings whose accented forms Snowball would have removed whole.
_ES_CONDITIONAL = ("ria", "rias", "rian", "riamos", "riais")
_ES_FUTURE = ("are", "ere", "ire")
_ES_INFINITIVE = ("ar", "er", "ir")


def _finish_spanish(word: str, stem: str, stemmer: Stemmer.Stemmer) -> str:
    """Finish the Snowball stem of a folded Spanish word (see the module docstring)."""
    if stem.endswith("i") and len(stem) > 2 and not word.endswith(("ie", "ies")):
        # vivia/vivio/vivi -> vivi -> viv; comeria -> comeri -> comer -> com
        stem = stem[:-1]
        if stem.endswith(_ES_INFINITIVE) and word.endswith(_ES_CONDITIONAL):
            stem = stemmer.stemWord(stem) or stem
    elif word.endswith(_ES_FUTURE) and stem == word[:-1]:
        # vivire -> vivir -> viv
        stem = stemmer.stemWord(stem) or stem
    return stem


_STEM_CACHE_SIZE = 50_000


class Analyzer:
    """Turns text into index/query terms for one language (use :func:`analyzer` to get one).

    Thread-safe: the Snowball stemmers are per thread, and the word -> stem cache is a plain dict
    (single reads and writes are atomic; a race at worst computes a stem twice).
    """

    __slots__ = ("_algorithm", "_skip", "_stems", "language")

    def __init__(self, language: str) -> None:
        self.language = _normalise_language(language)
        self._algorithm = LANGUAGES[self.language]
        # Stop words and single letters map to "" (dropped); single digits are kept.
        letters = (chr(c) for c in range(ord("a"), ord("z") + 1))
        self._skip: dict[str, str] = dict.fromkeys([*stop_words(self.language), *letters], "")
        self._stems: dict[str, str] = dict(self._skip)

    def __repr__(self) -> str:
        return f"Analyzer({self.language!r})"

    def _learn(self, words: list[str]) -> dict[str, str]:
        """Stem ``words`` (not yet cached), cache and return their stems."""
        words = list(dict.fromkeys(words))
        stemmer = _stemmer(self._algorithm)
        stems = stemmer.stemWords(words)
        if self.language == "es":
            stems = [
                _finish_spanish(w, stem, stemmer) for w, stem in zip(words, stems, strict=True)
            ]
        # Snowball never returns an empty stem for a word; keep the word if it ever did.
        learnt = {w: stem or w for w, stem in zip(words, stems, strict=True)}
        if len(self._stems) > _STEM_CACHE_SIZE:
            self._stems = dict(self._skip)
        self._stems.update(learnt)
        return learnt

    def terms(self, text: str) -> list[str]:
        """All index terms of ``text``, in order, with repeats (term frequency counts)."""
        if not text:
            return []
        words = _tokens(text)
        stems = list(map(self._stems.get, words))
        if None in stems:
            learnt = self._learn([w for w, s in zip(words, stems, strict=True) if s is None])
            stems = [learnt[w] if s is None else s for w, s in zip(words, stems, strict=True)]
        return list(filter(None, stems))

    def query_terms(self, text: str) -> list[str]:
        """The distinct terms of ``text``, in order of first appearance."""
        return list(dict.fromkeys(self.terms(text)))


@functools.cache
def _analyzer(code: str) -> Analyzer:
    return Analyzer(code)


MAX_SEARCH_TERMS = 64
"""A search (`threads search`, `Memoria.search`) looks for at most this many distinct terms, the
first of its text: both engines answer that at once, where Postgres refuses some 20,000."""


def search_terms(text: str, language: str) -> list[str]:
    """The terms a search for `text` looks for, capped at MAX_SEARCH_TERMS."""
    return analyzer(language).query_terms(text)[:MAX_SEARCH_TERMS]


def analyzer(language: str) -> Analyzer:
    """The shared :class:`Analyzer` for ``language`` ("en", "es"; "es-MX", "spanish" also work)."""
    return _analyzer(_normalise_language(language))


def _stop_lists_digest() -> str:
    digest = hashlib.sha256()
    for code in sorted(LANGUAGES):
        digest.update(f"{code}:{' '.join(sorted(stop_words(code)))}\n".encode())
    return digest.hexdigest()[:8]


def _pystemmer_version() -> str:
    version = getattr(Stemmer, "version", None)
    if callable(version):
        version = version()
    return str(version or "unknown")


#: Identifies the analysis: rules, PyStemmer, Unicode tables, stop lists. Rebuild indexes when it changes.
ANALYZER_VERSION: str = (
    f"memoria-analysis-{_RULES_VERSION}"
    f"+pystemmer-{_pystemmer_version()}"
    f"+unicode-{unicodedata.unidata_version}"
    f"+stop-{_stop_lists_digest()}"
)

# --------------------------------------------------------------------------------------------
# Language detection
# --------------------------------------------------------------------------------------------

_SPANISH_SIGNS = frozenset("¿¡ñÑáéíóúÁÉÍÓÚ")


@functools.cache
def _exclusive_stop_words() -> tuple[frozenset[str], frozenset[str]]:
    english, spanish = stop_words("en"), stop_words("es")
    return english - spanish, spanish - english


def detect_language(text: str) -> str | None:
    """``"es"`` or ``"en"``, or None when the evidence is thin (fewer than 2 signals) or tied.

    Signals: words of the folded text that are stop words of one language only ("the", "with";
    "el", "con"; shared ones such as "no" or "me" count for neither), plus each Spanish-only
    character of the original text (¿ ¡ ñ á é í ó ú). Mixed text goes to the majority.
    """
    if not text:
        return None
    english_only, spanish_only = _exclusive_stop_words()
    words = _tokens(text)
    english = sum(map(english_only.__contains__, words))
    spanish = sum(map(spanish_only.__contains__, words))
    if not text.isascii():
        spanish += sum(
            map(_SPANISH_SIGNS.__contains__, _non_ascii(unicodedata.normalize("NFC", text)))
        )
    if english + spanish < 2 or english == spanish:
        return None
    return "es" if spanish > english else "en"


# --------------------------------------------------------------------------------------------
# Highlighting, snippets, excerpts (display only; the original text, accents kept)
# --------------------------------------------------------------------------------------------

# Original "words": runs of anything but whitespace and punctuation (ASCII punctuation, Latin-1
# signs, General Punctuation, CJK punctuation). Combining marks, the soft hyphen and zero-width
# joiners stay inside their word, as folding drops them.
_CHUNK = re.compile(
    "[^\\s!-/:-@\\[-`{-~\u00a0-\u00ac\u00ae-\u00bf\u00d7\u00f7"
    "\u2000-\u200b\u200e-\u205f\u2061-\u206f\u3000-\u303f]+"
)
# Sentence ends: after . ! ? … (and closing quotes/brackets) followed by whitespace, or a line break.
_SENTENCE_BREAK = re.compile("(?<=[.!?…])[\"'”’»)\\]]*[ \\t]+|[ \\t]*\\n\\s*")
# Titles that end in a period without ending the sentence ("a vet called Dr. Patel").
_ABBREVIATIONS = frozenset(
    [
        "dr",
        "dra",
        "dres",
        "mr",
        "mrs",
        "ms",
        "mx",
        "sr",
        "sra",
        "srta",
        "sres",
        "st",
        "sta",
        "sto",
        "prof",
        "profa",
        "lic",
        "ing",
        "fr",
        "jr",
        "vs",
    ]
)
_WORD_BEFORE_PERIOD = re.compile(r"(\w+)\.$")
_SPACE = re.compile(r"\s")
_SPACES = re.compile(r"\s+")
ELLIPSIS = "…"

_Span = tuple[int, int, frozenset[str]]


def _term_set(terms: Iterable[str]) -> frozenset[str]:
    return terms if isinstance(terms, frozenset) else frozenset(terms)


def _matches(text: str, terms: frozenset[str], language: str) -> list[_Span]:
    """(start, end, matched terms) of each original word of ``text`` that yields one of ``terms``."""
    if not terms or not text:
        return []
    code = _normalise_language(language)
    found = []
    for match in _CHUNK.finditer(text):
        hit = terms.intersection(_chunk_terms(code, match.group()))
        if hit:
            found.append((match.start(), match.end(), hit))
    return found


@functools.lru_cache(maxsize=16384)
def _chunk_terms(code: str, chunk: str) -> frozenset[str]:
    return frozenset(_analyzer(code).terms(chunk))


def highlight(
    text: str, terms: Iterable[str], language: str, start: str = "[", end: str = "]"
) -> str:
    """Wrap each word of ``text`` whose analysed term is in ``terms`` in ``start`` ... ``end``.

    ``terms`` are analysed terms (e.g. ``analyzer("es").query_terms(query)``); the text is the
    original, accents kept: ``highlight("Viví en Bogotá", ["bogot"], "es") == "Viví en [Bogotá]"``.
    """
    parts, position = [], 0
    for left, right, _ in _matches(text, _term_set(terms), language):
        parts += [text[position:left], start, text[left:right], end]
        position = right
    parts.append(text[position:])
    return "".join(parts)


def _densest(spans: list[_Span], width: int) -> tuple[int, int]:
    """Indices [i, j) of the run of spans fitting in ``width`` characters with the most distinct
    terms, then the most matches; the earliest on a tie."""
    best, best_score, j = (0, 1), (0, 0), 0
    for i in range(len(spans)):
        j = max(j, i + 1)
        while j < len(spans) and spans[j][1] - spans[i][0] <= width:
            j += 1
        score = (len(frozenset().union(*(span[2] for span in spans[i:j]))), j - i)
        if score > best_score:
            best, best_score = (i, j), score
    return best


def _window(text: str, left: int, right: int, width: int, lo: int, hi: int) -> tuple[int, int]:
    """About ``width`` characters of ``text[lo:hi]`` around ``[left, right)``, not cutting words
    (unless one word alone is wider than ``width``)."""
    width = max(width, 1)
    slack = max(0, width - (right - left))
    start = max(lo, left - slack // 2)
    stop = min(hi, start + max(width, right - left))
    start = max(lo, min(start, stop - width))
    if start > lo and not text[start - 1].isspace():
        space = _SPACE.search(text, start, left)
        start = left if space is None else space.end()
    if stop < hi and not text[stop].isspace():
        spaces = [m.start() for m in _SPACE.finditer(text, right, stop)]
        stop = spaces[-1] if spaces else right
    if stop <= start:  # a single word wider than the window: cut it
        stop = min(hi, start + width)
    return start, stop


def _cut(text: str, start: int, stop: int) -> str:
    """``text[start:stop]`` with whitespace collapsed and "…" where text was left out."""
    piece = _SPACES.sub(" ", text[start:stop]).strip()
    if text[:start].strip():
        piece = ELLIPSIS + piece
    if text[stop:].strip():
        piece += ELLIPSIS
    return piece


def snippet(
    text: str,
    terms: Iterable[str],
    language: str,
    width: int = 160,
    start: str = "[",
    end: str = "]",
) -> str:
    """About ``width`` characters of ``text`` around its densest cluster of matches, highlighted
    with ``start`` ... ``end``.

    Whitespace is collapsed to single spaces, words are not cut, and "…" marks each cut end. With
    no match, the start of the text; a text of at most ``width`` characters is given whole.
    """
    wanted = _term_set(terms)
    marks = {"start": start, "end": end}
    if len(text) <= width:
        return highlight(_SPACES.sub(" ", text).strip(), wanted, language, **marks)
    spans = _matches(text, wanted, language)
    if spans:
        i, j = _densest(spans, width)
        left, right = _window(text, spans[i][0], spans[j - 1][1], width, 0, len(text))
    else:
        left, right = _window(text, 0, 0, width, 0, len(text))
    return highlight(_cut(text, left, right), wanted, language, **marks)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence or line of ``text``. A title's period ("Dr.", "Sra.") does not
    end a sentence."""
    spans, position = [], 0
    for match in _SENTENCE_BREAK.finditer(text):
        before = _WORD_BEFORE_PERIOD.search(text, max(position, match.start() - 6), match.start())
        if before and before.group(1).casefold() in _ABBREVIATIONS and "\n" not in match.group():
            continue
        if text[position : match.start()].strip():
            spans.append((position, match.start()))
        position = match.end()
    if text[position:].strip():
        spans.append((position, len(text)))
    return spans


def join_sentences(text: str, spans: Sequence[tuple[int, int]], chosen: Iterable[int]) -> str:
    """The sentences ``chosen`` (indices into ``spans``, from :func:`sentence_spans`) of ``text``,
    in order, whitespace collapsed: adjacent ones joined by a space, gaps marked " … ", and
    "… " / " …" where the start or the end of the text is left out."""
    parts: list[str] = []
    previous = None
    indices = sorted(chosen)
    for index in indices:
        left, right = spans[index]
        sentence = _SPACES.sub(" ", text[left:right]).strip()
        if previous is None:
            parts.append(sentence if index == 0 else f"{ELLIPSIS} {sentence}")
        elif index == previous + 1:
            parts.append(f" {sentence}")
        else:
            parts.append(f" {ELLIPSIS} {sentence}")
        previous = index
    if indices and indices[-1] != len(spans) - 1:
        parts.append(f" {ELLIPSIS}")
    return "".join(parts)


def excerpt(text: str, terms: Iterable[str], language: str, max_chars: int) -> str:
    """At most ``max_chars`` characters of ``text`` that bear on ``terms`` (not highlighted).

    A text of at most ``max_chars`` characters is returned whole. Otherwise the sentences holding
    matches are kept, those with the most distinct terms first while they fit, in their original
    order: adjacent sentences joined by a space, gaps marked " … " (and "… " / " …" when the start
    or the end of the text is left out). A matching sentence too long on its own is cut around its
    matches; with no match, the start of the text.
    """
    if max_chars <= 0:
        return ""
    if len(text) <= max_chars:
        return text
    spans = _matches(text, _term_set(terms), language)
    sentences = sentence_spans(text)
    if not spans:
        start, stop = _window(text, 0, 0, max_chars - 1, 0, len(text))
        return _cut(text, start, stop)[:max_chars]

    # Distinct terms and matches per sentence.
    hits: dict[int, tuple[frozenset[str], int]] = {}
    k = 0
    for index, (left, right) in enumerate(sentences):
        found: list[frozenset[str]] = []
        while k < len(spans) and spans[k][0] < right:
            if spans[k][0] >= left:
                found.append(spans[k][2])
            k += 1
        if found:
            hits[index] = (frozenset().union(*found), len(found))

    def render(chosen: list[int]) -> str:
        return join_sentences(text, sentences, chosen)

    ranking = sorted(hits, key=lambda index: (-len(hits[index][0]), -hits[index][1], index))
    chosen: list[int] = []
    for index in ranking:
        candidate = sorted([*chosen, index])
        if len(render(candidate)) <= max_chars:
            chosen = candidate
    if chosen:
        return render(chosen)

    # Even the best sentence is too long on its own: cut it around its matches.
    left, right = sentences[ranking[0]]
    inside = [span for span in spans if left <= span[0] < right]
    i, j = _densest(inside, max_chars - 2)
    start, stop = _window(text, inside[i][0], inside[j - 1][1], max_chars - 2, left, right)
    piece = _cut(text, start, stop)
    return piece if len(piece) <= max_chars else piece[: max_chars - 1] + ELLIPSIS
