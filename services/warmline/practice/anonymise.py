"""Anonymising a practice scenario, consistently across its turns.

Scenario text was redacted at ingestion (emails, phones, cards, ... became
``[EMAIL]``, ``[PHONE]``, ...); those placeholders are kept. What is promised on
top, within one scenario (all its turns and its example opening together):

- a name is replaced by ``Person A``, ``Person B``, ... and a place by
  ``Place A``, ... the same way in every turn ("Anna" is "Person A" everywhere);
  a name is a run of capitalised words that does not open a sentence, or that
  follows a title (Mr, Ms, Dr, ...) or an ordinary opener ("Hi Anna", "I'm Anna"),
  and a place is such a run after *in*, *at*, *from*, *near* or *via*. Once found
  anywhere, a name is replaced everywhere, at the start of sentences too, and
  each word of a full name stands for the same person ("Anna" of "Anna Smith");
- dates (``3 March``, ``March 3rd 2026``, ``03/12/2026``) become ``Date 1``, ...;
- references (order and account ids: letters with three digits or more such
  as ``AB-12345``, ``#123``, runs of five digits or more) become ``Reference 1``, ...;
- every other number becomes ``Number 1``, ...

What is not promised: a name that only ever opens a sentence with no title or
opener before it ("Anna here."), a name written in lower case or in capitals,
or a place without one of those words before it (it is taken for a person);
personal data in words (an occupation, a rare illness). Capitalised words that
are not names (brands, products) are replaced too: privacy over fidelity.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
_DATE = (
    rf"\b{_DAY}\s+(?:of\s+)?{_MONTH}\b(?:,?\s+\d{{4}})?"
    rf"|\b{_MONTH}\s+{_DAY}\b(?:,?\s+\d{{4}})?"
    r"|\b\d{1,4}[/.-]\d{1,2}[/.-]\d{2,4}\b"
)
_REFERENCE = (
    r"#\d+"
    r"|\b(?=(?:[A-Za-z-]*\d){3})(?=[A-Za-z0-9-]*[A-Za-z])[A-Za-z0-9]+(?:-[A-Za-z0-9]+)+\b"
    r"|\b(?=(?:[A-Za-z]*\d){3})(?=\d*[A-Za-z])[A-Za-z0-9]+\b"
    r"|\b\d{5,}\b"
)
_NUMBER = r"\d+(?:[.,:]\d+)*"
_PLACEHOLDER = r"\[[A-Z_]+\]"
_CAPITALISED = re.compile(r"\b[A-Z][a-z]+(?:['\u2019-][A-Za-z]+)?\b")

#: Capitalised words that are not names: openers, titles, days, months.
_ORDINARY = frozenset(
    [
        "I",
        "I'm",
        "I've",
        "I'll",
        "I'd",
        "Im",
        "Hi",
        "Hello",
        "Hey",
        "Dear",
        "Thanks",
        "Thank",
        "Please",
        "Sorry",
        "Yes",
        "No",
        "Ok",
        "Okay",
        "So",
        "And",
        "But",
        "Or",
        "Also",
        "Just",
        "Well",
        "Oh",
        "Great",
        "Good",
        "Morning",
        "Afternoon",
        "Evening",
        "Night",
        "This",
        "That",
        "These",
        "Those",
        "It",
        "It's",
        "Its",
        "My",
        "Our",
        "Your",
        "The",
        "A",
        "An",
        "We",
        "You",
        "He",
        "She",
        "They",
        "What",
        "Why",
        "How",
        "When",
        "Where",
        "Who",
        "Which",
        "Can",
        "Could",
        "Would",
        "Will",
        "Is",
        "Are",
        "Was",
        "Were",
        "Do",
        "Does",
        "Did",
        "Have",
        "Has",
        "Had",
        "Not",
        "Now",
        "Then",
        "There",
        "Here",
        "If",
        "Any",
        "Some",
        "All",
        "Every",
        "Still",
        "Again",
        "Today",
        "Tomorrow",
        "Yesterday",
        "Mr",
        "Mrs",
        "Ms",
        "Miss",
        "Dr",
        "Sir",
        "Madam",
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
        "Christmas",
        "Easter",
    ]
)
_TITLES = frozenset({"Mr", "Mrs", "Ms", "Miss", "Dr"})
_PLACE_CUES = frozenset({"in", "at", "from", "near", "via"})
_SENTENCE_END = '.!?\n"\u201c:'


def anonymise(texts: Sequence[str]) -> list[str]:
    """``texts`` (one scenario's turns and its example opening) with names, places,
    dates, references and numbers replaced, the same way in every one of them."""
    names = _names(texts)
    alternatives = [
        f"(?P<placeholder>{_PLACEHOLDER})",
        f"(?P<date>{_DATE})",
        f"(?P<reference>{_REFERENCE})",
        f"(?P<number>{_NUMBER})",
    ]
    if names:
        longest_first = sorted(names, key=len, reverse=True)
        alternatives.append(rf"(?P<name>\b(?:{'|'.join(map(re.escape, longest_first))})\b)")
    pattern = re.compile("|".join(alternatives))
    labels = _Labels()

    def replace(match: re.Match[str]) -> str:
        kind = match.lastgroup
        found = match.group()
        if kind == "placeholder":
            return found
        if kind == "name":
            return labels.of(*names[found])
        assert kind is not None
        return labels.of(kind, found)

    return [pattern.sub(replace, text) for text in texts]


class _Labels:
    """The label of each thing found, in the order things are first met."""

    def __init__(self) -> None:
        self._given: dict[tuple[str, str], str] = {}
        self._count: dict[str, int] = {}

    def of(self, kind: str, found: str) -> str:
        key = (kind, found)
        if key not in self._given:
            n = self._count.get(kind, 0)
            self._count[kind] = n + 1
            self._given[key] = _label(kind, n)
        return self._given[key]


def _label(kind: str, n: int) -> str:
    if kind in ("person", "place"):
        letter = chr(ord("A") + n) if n < 26 else str(n + 1)
        return f"{kind.capitalize()} {letter}"
    return f"{kind.capitalize()} {n + 1}"


def _names(texts: Sequence[str]) -> dict[str, tuple[str, str]]:
    """Every name and place found in ``texts``, as text -> (kind, whose label it takes):
    ``person`` or ``place``, and for a word of a full name, the full name."""
    runs: dict[str, str] = {}
    for text in texts:
        for run, kind in _runs(text):
            runs.setdefault(run, kind)
    part_of: dict[str, str] = {}
    for run in runs:
        if " " in run:
            for word in run.split():
                part_of.setdefault(word, run)
    found = {run: (kind, part_of.get(run, run)) for run, kind in runs.items()}
    for word, run in part_of.items():
        found.setdefault(word, (runs[run], run))
    return found


def _runs(text: str) -> list[tuple[str, str]]:
    """The runs of capitalised words of ``text`` taken for names, each with its kind."""
    runs: list[tuple[str, str]] = []
    words = list(_CAPITALISED.finditer(text))
    i = 0
    while i < len(words):
        start = words[i]
        if start.group() in _ORDINARY:
            i += 1
            continue
        j = i + 1
        while (
            j < len(words)
            and words[j].group() not in _ORDINARY
            and text[words[j - 1].end() : words[j].start()] == " "
        ):
            j += 1
        before = text[: start.start()].rstrip()
        previous = before.split()[-1] if before else ""
        opens_sentence = not before or before[-1] in _SENTENCE_END
        if not opens_sentence or previous.rstrip(".") in _TITLES:
            kind = "place" if previous.lower() in _PLACE_CUES else "person"
            runs.append((" ".join(w.group() for w in words[i:j]), kind))
        i = j
    return runs
