"""A cheap English detector, so the English-only emotion model can decline other text.

No language-id dependency: two signals are enough to catch the obvious cases that
reach an English contact center.

1. **Script.** Letters are classified by Unicode block. Text whose letters are mostly
   from a non-Latin script (CJK, Cyrillic, Arabic, ...) is not English, however short.
2. **Function words.** For Latin-script text of three words or more, the share of
   words that are common English function words is compared with the share that
   are function words of Spanish, French, German, Portuguese, Italian or Dutch
   (lists below drop words that are also English, such as "a", "in", "die").

Everything else, including short messages ("ok", "thx!!"), emoji-only text and
English slang without function words, counts as English-compatible: a wrong
"unsupported" silences the model, while a wrong "supported" only yields a low-value
score, so ties go to English.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


def _words(block: str) -> frozenset[str]:
    """Whitespace-separated words of a literal block (keeps the lists readable)."""
    return frozenset(block.split())


_EN = _words(
    """
    the a an and or but if of to in on at by for with from into about as is are was were
    be been being am do does did done have has had having i me my mine you your yours he him
    his she her hers it its we us our they them their this that these those there here what
    which who whom whose why how when where not no nor so than too very can could will would
    shall should may might must just also only all any some more most other such own same
    again out up down off over under then once dont im ive youre thats its cant wont didnt
    doesnt isnt wasnt arent get got like one really now
    """
)

# Function words per language, minus forms that are common in English text.
_FOREIGN: dict[str, frozenset[str]] = {
    "es": _words(
        """
        el la los las un una unos unas y o pero que de del al en con por para es son está
        están estoy soy eres fue ser muy más mi mis tu tus su sus yo tú él ella nosotros
        ellos usted lo le les se nos como cuando donde porque qué cómo esto eso este esta
        hay tengo tiene no sí gracias hola ayuda favor pedido cuenta
        """
    ),
    "fr": _words(
        """
        le la les un une des et ou mais que qui de du au aux en dans avec pour par est
        sont suis es était être très plus mon ma mes ton ta tes son sa ses je tu il elle
        nous vous ils elles ce cette ces ne pas oui non merci bonjour aide où quand
        comment pourquoi j'ai c'est n'est je suis
        """
    ),
    "de": _words(
        """
        der die das den dem des ein eine einen einem einer und oder aber dass von zu mit
        für auf ist sind bin bist war sein sehr mehr mein meine dein deine sein seine ich
        du er sie es wir ihr nicht kein keine ja nein danke hallo bitte hilfe wo wann wie
        warum ich habe hat haben auch noch schon nur
        """
    ),
    "pt": _words(
        """
        o os as um uma uns umas e ou mas que de do da dos das em no na nos nas com por
        para é são estou está estão sou muito mais meu minha seu sua eu você ele ela nós
        eles não sim obrigado obrigada olá ajuda pedido conta isso isto como quando onde
        porque
        """
    ),
    "it": _words(
        """
        il lo la gli le un uno una e o ma che di del della dei in con per è sono sei
        sto molto più mio mia tuo tua suo sua io tu lui lei noi voi loro non sì grazie
        ciao aiuto come quando dove perché questo questa ho hai ha
        """
    ),
    "nl": _words(
        """
        de het een en of maar dat van naar met voor op is zijn ben bent was erg meer mijn
        jouw zijn haar ik jij hij zij wij jullie niet geen ja nee dank bedankt hallo hulp
        waar wanneer hoe waarom heb heeft hebben ook nog al
        """
    ),
}
# A word that is English as well proves nothing; drop it from every foreign list.
_FOREIGN = {lang: words - _EN for lang, words in _FOREIGN.items()}


def _languages_by_word(vocabularies: dict[str, frozenset[str]]) -> dict[str, tuple[str, ...]]:
    """Word -> the languages whose list holds it (in ``vocabularies`` order)."""
    index: dict[str, tuple[str, ...]] = {}
    for lang, words in vocabularies.items():
        for word in words:
            index[word] = (*index.get(word, ()), lang)
    return index


# One pass over a text's words counts the evidence for every language at once.
_FOREIGN_INDEX = _languages_by_word(_FOREIGN)

_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
_NOISE = re.compile(r"https?://\S+|www\.\S+|\[[A-Z]+\]|@\w+|#\w+")
_ASCII_LETTER = re.compile(r"[A-Za-z]")

_SCRIPTS: tuple[tuple[str, tuple[tuple[int, int], ...]], ...] = (
    ("cjk", ((0x3040, 0x30FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF))),
    ("hangul", ((0x1100, 0x11FF), (0x3130, 0x318F), (0xAC00, 0xD7AF))),
    ("cyrillic", ((0x0400, 0x052F),)),
    ("greek", ((0x0370, 0x03FF),)),
    ("arabic", ((0x0600, 0x06FF), (0x0750, 0x077F))),
    ("hebrew", ((0x0590, 0x05FF),)),
    ("devanagari", ((0x0900, 0x097F),)),
    ("thai", ((0x0E00, 0x0E7F),)),
)

#: Minimum words before function-word statistics are trusted.
MIN_WORDS = 3
#: Share of foreign function words that marks a Latin-script text as non-English.
FOREIGN_SHARE = 0.15


@dataclass(frozen=True)
class LanguageGuess:
    """Outcome of :func:`detect`: a coarse language/script tag and whether we score it."""

    language: str
    supported: bool


_ENGLISH = LanguageGuess("en", True)


def _script(char: str) -> str:
    code = ord(char)
    if code < 0x250:
        return "latin"
    for name, ranges in _SCRIPTS:
        if any(lo <= code <= hi for lo, hi in ranges):
            return name
    return "other"


def detect(text: str) -> LanguageGuess:
    """Guess whether ``text`` is English (or too short / symbol-only to tell).

    Returns ``LanguageGuess("en", True)`` for English-compatible text, a script tag
    (``"cjk"``, ``"cyrillic"``, ...) or language code (``"es"``, ``"de"``, ...) with
    ``supported=False`` for text that is obviously not English.
    """
    cleaned = _NOISE.sub(" ", text)
    # Most traffic is ASCII: its letters are all Latin, so the script count is skipped.
    if cleaned.isascii():
        if not _ASCII_LETTER.search(cleaned):
            return _ENGLISH  # digits, punctuation, ASCII emoticons only
    else:
        script = _dominant_script(cleaned)
        if script is None:
            return _ENGLISH  # emoji, digits, punctuation only
        if script != "latin":
            return LanguageGuess(script, False)
    words = _WORD.findall(cleaned.lower())
    if len(words) < MIN_WORDS:
        return _ENGLISH
    return _by_function_words(words)


def _dominant_script(text: str) -> str | None:
    """``None`` without letters; a non-Latin script that holds at least half of the
    letters (and two or more of them); else ``"latin"``."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return None
    scripts: dict[str, int] = {}
    for char in letters:
        name = _script(char)
        scripts[name] = scripts.get(name, 0) + 1
    top, count = max(scripts.items(), key=lambda item: item[1])
    if top != "latin" and count >= 2 and count * 2 >= len(letters):
        return top
    return "latin"


def _by_function_words(words: list[str]) -> LanguageGuess:
    """English unless one foreign language's function words clearly dominate."""
    english = 0
    hits = dict.fromkeys(_FOREIGN, 0)
    seen: dict[str, set[str]] = {lang: set() for lang in _FOREIGN}
    for word in words:
        if word in _EN:
            english += 1
        # One-letter words ("o", "y", "e") appear in English text as typos, initials
        # and emoticons ("O_o"), so they never count as foreign evidence.
        elif len(word) > 1:
            for lang in _FOREIGN_INDEX.get(word, ()):
                hits[lang] += 1
                seen[lang].add(word)
    # The language with the most hits, then the most distinct words; ties go to the
    # first in ``_FOREIGN`` order.
    lang = max(_FOREIGN, key=lambda code: (hits[code], len(seen[code])))
    # Foreign evidence must be varied (not "la la"), dense, and clearly outweigh the
    # English function words, so an English sentence quoting "la vie en rose" passes.
    found = hits[lang]
    if len(seen[lang]) >= 2 and found / len(words) >= FOREIGN_SHARE and found > 2 * english:
        return LanguageGuess(lang, False)
    return _ENGLISH


def is_supported(text: str) -> bool:
    """True when :func:`detect` considers ``text`` English-compatible."""
    return detect(text).supported
