"""What personal data looks like: one :class:`Rule` per shape, in the order they run.

Two families:

* **Numbers and addresses with a shape**: emails (internationalised domains
  too), IBANs (any case, mod-97 checked), payment cards (any separator, Luhn
  checked), US SSNs, IP addresses and phone numbers (international ones checked
  with the ``phonenumbers`` library, national ones by their digit groups).
  Checks keep look-alikes: order numbers, amounts, version numbers.
* **Data that needs its cue**: names, street addresses and postcodes, dates of
  birth, passport numbers, card security codes and SSNs without dashes. A date
  is a date of birth only after "born", "DOB", "date of birth"; a nine-digit
  number is an SSN only after "SSN" or "social security". Names are found after
  what introduces a person ("my name is", "this is ... calling", "Mr", "my wife",
  "I spoke to", a greeting or an email's sign-off), so a capitalised word at the
  start of a sentence is not a name. Where a cue marks only part of a match, the
  rule's ``pii`` group is what gets replaced.

No rule downloads anything or runs a model: this runs on every event at the
ingestion door. Recall and precision per kind are measured on the project's own
labelled set (``pii_set/``, ``warmline pii eval``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneMetadata


@dataclass(frozen=True, slots=True)
class Rule:
    """One shape of personal data.

    The candidate is the first ``pii*`` group that matched (a pattern may offer
    several alternatives), else the whole match. ``check`` vets it; ``trim``
    returns the leading part of it that is personal data ("john calling" ->
    "john").
    """

    kind: str
    pattern: re.Pattern[str]
    check: Callable[[str], bool] | None = None
    trim: Callable[[str], str] | None = None
    #: When set, the candidate is a region after a cue, and every match of this
    #: pattern inside it is a span ("my passport (X) ... should be Y not Z").
    inner: re.Pattern[str] | None = None
    #: Runs only when an earlier rule found something (it reads the masked spans).
    after_spans: bool = False
    #: The rule runs only when one of these words (lower case, split on spaces) is
    #: in the text, or one of the ``cues`` occurs anywhere in it (when either is
    #: given) ...
    words: frozenset[str] = frozenset()
    cues: tuple[str, ...] = ()
    #: ... and the text holds at least this many digits.
    min_digits: int = 0


_APOSTROPHES = "'\u2019"


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_NON_DIGITS = re.compile(r"\D+")


def digits(text: str) -> str:
    """The digits of ``text``."""
    return _NON_DIGITS.sub("", text)


# A digit doubled, minus 9 when that is above 9.
_DOUBLED = {str(d): (2 * d - 9 if d > 4 else 2 * d) for d in range(10)}


def luhn_valid(number: str) -> bool:
    """True when the digits of ``number`` pass the Luhn checksum."""
    found = digits(number)
    if len(found) < 12:
        return False
    total = sum(map(int, found[-1::-2])) + sum(map(_DOUBLED.__getitem__, found[-2::-2]))
    return total % 10 == 0


def iban_valid(candidate: str) -> bool:
    """True when ``candidate`` (any case, spaces allowed) passes the IBAN mod-97 check."""
    compact = candidate.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34 or not compact.isalnum() or not compact.isascii():
        return False
    rearranged = compact[4:] + compact[:4]
    numeric = "".join(str(int(c, 36)) for c in rearranged)
    return int(numeric) % 97 == 1


def card_prefix(candidate: str) -> str:
    """The card number the candidate starts with: all of it when it passes Luhn,
    else the longest prefix cut between digit groups that does ("4111 1111 1111
    1111 123": a security code written right after the number); "" if none."""
    if len(digits(candidate)) <= 19 and luhn_valid(candidate):
        return candidate
    cuts = [m.start() for m in re.finditer(r"[ .\-/_]", candidate)]
    for cut in reversed(cuts):
        prefix = candidate[:cut]
        if len(digits(prefix)) <= 19 and luhn_valid(prefix):
            return prefix
    return ""


def iban_prefix(candidate: str) -> str:
    """The longest valid IBAN the candidate starts with, cut between its groups
    ("DE89 3704 0044 0532 0130 00 and" -> the IBAN without " and"); "" if none."""
    parts = candidate.split(" ")
    for end in range(len(parts), 0, -1):
        prefix = " ".join(parts[:end])
        if iban_valid(prefix):
            return prefix
    return ""


_DIGIT_WORDS = frozenset(
    [
        "zero",
        "oh",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "double",
        "triple",
    ]
)


def spoken_number_check(candidate: str) -> bool:
    """Seven digits or more once read as digits ("oh seven seven ..." or "4 9 6 0 ...")."""
    count = 0
    for token in re.split(r"[ ,-]+", candidate.lower()):
        if token.isdigit() or token in _DIGIT_WORDS:
            count += token not in ("double", "triple")
    return count >= 7


def _ip_valid(candidate: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(candidate)
    except ValueError:
        return False
    return True


_DATE_LIKE = re.compile(r"\s*\d{1,2}[./-]\d{1,2}[./-]\d{2,4}\s*")


@functools.cache
def _national_lengths(code: int) -> frozenset[int]:
    """The national number lengths a country calling code uses (the ``phonenumbers``
    metadata, read once per code); empty for an unknown code."""
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(code)
    if regions is None:
        return frozenset()
    if regions[0] == "001":
        metadata = PhoneMetadata.metadata_for_nongeo_region(code)
    else:
        metadata = PhoneMetadata.metadata_for_region(regions[0])
    if metadata is None or metadata.general_desc is None:
        return frozenset()
    desc = metadata.general_desc
    return frozenset(desc.possible_length or ()) | frozenset(desc.possible_length_local_only or ())


def _possible_international(number: str) -> bool:
    """Whether the digits after "+" are a possible number: a known country calling
    code followed by a national number of a length that country uses (a lookup,
    not a parse, as this runs per event)."""
    for size in (1, 2, 3):
        if int(number[:size]) not in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            continue  # calling codes are prefix-free: the first known one is it
        lengths = _national_lengths(int(number[:size]))
        national = number[size:]
        # A trunk "0" written after the code ("+44 (0)20 ...") is not dialled.
        return len(national) in lengths or (
            national.startswith("0") and len(national) - 1 in lengths
        )
    return False


_GROUP_SEPARATORS = re.compile(r"[ .\-()]+")


def _has_separator(text: str) -> bool:
    return any(c in text for c in " .-()")


def phone_valid(candidate: str) -> bool:
    """A plausible phone number: an international one must be possible for its
    country calling code; a national one has 7-15 digits and is not a date such
    as 12.05.2024."""
    found = digits(candidate)
    if not 7 <= len(found) <= 15 or _DATE_LIKE.fullmatch(candidate):
        return False
    stripped = candidate.lstrip()
    if stripped.startswith("+"):
        return _possible_international(found)
    if stripped.startswith("00"):
        # A bare "00..." run is more often a reference number than a dialled one.
        return _has_separator(stripped.strip("() ")) and _possible_international(found[2:])
    # A national number is written in three groups or more, or starts with a trunk
    # "0" or an area code in brackets: "5560-1123" is an order, "030 1234567" a phone.
    groups = len(_GROUP_SEPARATORS.split(stripped.strip("()")))
    return groups >= 3 or stripped.startswith(("0", "(")) or groups == 1


# --- shapes -----------------------------------------------------------------

_EMAIL = re.compile(
    r"(?<![\w.+-])[\w.+-]{1,64}@(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+[^\W\d_]{2,63}(?![\w-])"
)
_IBAN = re.compile(r"(?i)(?<![\w])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?(?!\w)")
# 13-19 digits with any separators; see card_prefix for a code written after it.
_CARD = re.compile(r"(?=\d)(?<![\d.\-])\d(?:[ .\-/_]?\d){12,22}(?!\d)")
_SSN = re.compile(r"(?=\d)(?<![\d-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d-])")
_IPV4 = re.compile(r"(?=\d)(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
_IPV6 = re.compile(r"(?<![:\w])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![:\w])")
# International: +CC or 00CC, an optional national trunk "(0)", digit groups.
_PHONE_INTERNATIONAL = re.compile(
    r"(?=[+0])(?<![\w+])(?:\+|00)\d{1,3}(?:[ .-]?\(0\))?(?:[ .-]?\(?\d{1,5}\)?){1,6}(?!\w)"
)
_PHONE_NATIONAL = re.compile(
    # With separators: (0)30 1234567, 030 1234567, (555) 123-4567.
    r"(?=[(\d])(?:(?<![\w+.\-])\(?\d{2,5}\)?(?:[ .-]\d{2,8}){1,4}(?!\w|[.\-]\d)"
    # A bare 10-11 digit run; a 6-9 digit run (an order number) is kept.
    r"|(?<![\w+])\d{10,11}(?!\w))"
)

# --- cues -------------------------------------------------------------------

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_ORDINAL_WORD = (
    r"(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth"
    r"|thirteenth|fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|nineteenth"
    r"|twentieth|thirtieth|(?:twenty|thirty)[- ](?:first|second|third|fourth|fifth|sixth"
    r"|seventh|eighth|ninth))"
)
_SPOKEN_YEAR = r"(?:nineteen|twenty|two thousand)(?:[ -][a-z]+){0,3}"
_DATE = (
    r"(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}"
    r"|\d{4}年\d{1,2}月\d{1,2}日"
    r"|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}"
    r"|(?:the )?\d{1,2}(?:st|nd|rd|th)?(?: of)? " + _MONTH + r"\.?,? (?:\d{4}|'?\d{2})"
    r"|" + _MONTH + r"\.? \d{1,2}(?:st|nd|rd|th)?,? \d{4}"
    r"|(?:the )?" + _ORDINAL_WORD + r"(?: of)? " + _MONTH + r"(?:,? " + _SPOKEN_YEAR + r")?"
    r"|" + _MONTH + r" (?:the )?" + _ORDINAL_WORD + r"(?:,? " + _SPOKEN_YEAR + r")?)"
)
# A date of birth: any date in the rest of the clause after the cue
# ("the date of birth field won't accept 31/12/1999").
_DOB = re.compile(
    r"(?i)\b(?:d\.?o\.?b\.?|date of birth|birth ?date|born|birthday)(?P<pii>[^\n;!?]{0,60})"
)
_DATE_INNER = re.compile(r"(?i)(?<![\w/.-])" + _DATE + r"(?![\w/-])")
_PASSPORT = re.compile(r"(?i)\b(?:passport|pass nr|pass no)(?P<pii>[^\n]{0,90})")
# One or two letters and digits, or digits and a letter, 6-9 long, five digits or more.
_PASSPORT_INNER = re.compile(r"(?i)(?<![\w-])(?=(?:[a-z]*\d){5})[a-z]{0,2}\d[a-z0-9]{4,8}(?![\w-])")
_DIGIT_WORD = r"(?:zero|oh|one|two|three|four|five|six|seven|eight|nine)"
_CVV = re.compile(
    r"(?i)\b(?:cvv2?|cvc2?|cv2|csc|(?<!social )security (?:code|number)"
    r"|card verification (?:code|value)"
    r"|3[- ]digit code|(?:the )?code on the back|(?:and )?the code)"
    r"(?:\s*(?:number|code|no\.?|on the back))?(?:\s*(?:is|was|:|-|=|it's))*\s*"
    r"(?P<pii>\d{3,4}|\d(?: \d){2,3}|" + _DIGIT_WORD + r"(?: " + _DIGIT_WORD + r"){2,3})(?![\w])"
)
# Numbers read out digit by digit (voice transcripts, or typed with spaces): seven
# digits or more is a phone, card, SSN or passport number, whichever it is.
_SPOKEN_DIGITS = re.compile(
    r"(?i)(?<![\w-])(?:[a-z] )?(?:(?:" + _DIGIT_WORD + r"|double|triple|\d)[ ,-]+){6,}"
    r"(?:" + _DIGIT_WORD + r"|\d)(?![\w-])"
)
_SPACED_DIGITS = re.compile(r"(?=\d)(?<![\w-])(?:\d[ ,-]+){6,}\d(?![\w-])")
_SSN_CUED = re.compile(
    r"(?i)\b(?:ssn|social security(?: number| no\.?| #)?|social)(?:\s*(?:is|was|:|-|#|=))*\s*"
    r"(?P<pii>\d{3}[ -]?\d{2}[ -]?\d{4})(?!\d)"
)

# Street suffixes and words (English, German, French, Spanish, Dutch, Polish).
_STREET_TYPE = (
    r"(?:street|st|road|rd|avenue|ave|lane|ln|drive|dr|close|court|ct|way|boulevard|blvd"
    r"|place|pl|crescent|cres|terrace|gardens|square|sq|highway|hwy|parkway|pkwy|row|mews"
    r"|grove|hill|walk|park|view|rise|green|wharf|quay|parade|circus|embankment|esplanade"
    r"|promenade|towers|apartments)\.?"
)
_STREET_TYPE_WORDS = _words(
    """street st st. road rd rd. avenue ave ave. lane ln drive dr dr. close court ct way
    boulevard blvd place pl crescent cres terrace gardens square sq highway hwy parkway pkwy
    row mews grove hill walk park view rise green wharf quay parade circus embankment
    esplanade promenade towers apartments"""
)
_CAP = r"(?:[A-ZÀ-ÖØ-ÞĀ-Ž][A-Za-zÀ-ÖØ-öø-ÿĀ-ž'\u2019.-]*|\d{1,3}(?:st|nd|rd|th))"
_STREET_PARTICLE = r"(?:(?:de|da|do|das|dos|del|de la|des|du|di|der|van|von|d')\s*)"
# "221B Baker Street", "17 Mill Lane", "1600 Amphitheatre Pkwy"
_STREET_NUMBERED = re.compile(
    r"(?=\d)(?<!\w)\d{1,5}[A-Za-z]?,?\s+(?:" + _CAP + r"\s+){1,3}(?i:" + _STREET_TYPE + r")(?!\w)"
)


def numbered_street_check(candidate: str) -> bool:
    """The street does not run across a sentence's end ("died on 14 March. Please
    close the account"): only short abbreviations ("St.", "Mt.") end in a full stop."""
    return not any(len(word) > 4 and word.endswith(".") for word in candidate.split()[1:-1])


# "Flat 3", "Apt 4B" (the street line after it is found by the rule above)
_FLAT_WORDS = _words("flat apt apartment suite unit villa level box apto")
_FLAT = re.compile(
    r"(?i)\b(?:flat|apt\.?|apartment|suite|unit|villa|level|p\.?\s?o\.?\s+box|apto\.?)\s*"
    r"\d{1,5}[a-z]?\b"
)
# A street named without its number: "Leicester Road", "Brookfield Business Park".
_STREET_UNNUMBERED = re.compile(
    r"(?<![\w])(?:" + _CAP + r"\s+){1,3}(?:Street|Road|Avenue|Lane|Drive|Close|Crescent"
    r"|Terrace|Gardens|Square|Parade|Wharf|Mews|Grove|Park|Towers|Apartments)(?!\w)"
)
# Read out in words: "forty two station road", "flat six forty five victoria road".
_NUMBER_WORDS = _words(
    """one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen
    sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety
    hundred"""
)
_NUMBER_WORD = "(?:" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) + ")"
_STREET_SPOKEN = re.compile(
    r"(?i)\b(?:(?:flat|apartment|unit|number)\s+)?"
    + _NUMBER_WORD
    + r"(?:[\s-]+(?:and\s+)?"
    + _NUMBER_WORD
    + r")*\s+(?:[a-z'\u2019]+\s+){1,3}"
    + _STREET_TYPE
    + r"(?!\w)"
)
# Words that make "<number> ... <street type>" ordinary speech: "three years in a
# row", "the one near the retail park", "the seventeen oh five from glasgow queen street"
# ("seventeen the crescent" is a street: "the" may stand before the street type).
_SPOKEN_STREET_STOP = _words(
    "a an in on at of near by from to for and it's its is instead way years times days"
    " weeks months bills paydays"
)


def spoken_street_check(candidate: str) -> bool:
    """A street read out in words: after "flat", "number" or "unit" anything goes;
    otherwise neither "one" alone (a pronoun) nor a joining word before the street."""
    words = candidate.lower().replace("-", " ").split()
    if words[0] in ("flat", "apartment", "unit", "number"):
        return True
    numbers = 0
    while numbers < len(words) and (words[numbers] in _NUMBER_WORDS or words[numbers] == "and"):
        numbers += 1
    if words[:numbers] == ["one"]:
        return False
    return not any(word in _SPOKEN_STREET_STOP for word in words[numbers:-1])


_CONTINENTAL_STREET_WORDS = tuple(
    _words("straße strasse str weg platz allee gasse ring damm straat laan plein gracht")
)
# "Hauptstraße 12", "Kerkstraat 4a"
_STREET_SUFFIXED = re.compile(
    r"\b[A-ZÀ-ÖØ-ÞĀ-Ž][\wäöüßÄÖÜ-]*(?:straße|strasse|str\.|weg|platz|allee|gasse|ring|damm"
    r"|straat|laan|plein|gracht)\s*\d{1,4}[a-z]?\b"
)
_STREET_PREFIX_WORDS = _words("ul ulica calle c/ carrer avenida av rua via")
# "ulica Długa 5", "Calle Mayor 10"
_STREET_PREFIXED = re.compile(
    r"(?i:\b(?:ul\.|ulica|calle|c/|carrer|avenida|av\.|rua|via))\s+"
    + _STREET_PARTICLE
    + r"?"
    + _CAP
    + r"(?:\s+"
    + _CAP
    + r")?,?\s*\d{1,4}(?:/\d{1,4})?\b"
)
_FRENCH_STREET_WORDS = _words("rue avenue boulevard bd chemin impasse place allée quai")
# "12 rue de la Paix", "3 avenue Victor Hugo"
_STREET_FRENCH = re.compile(
    r"(?=\d)\b\d{1,4}(?:\s*(?:bis|ter))?,?\s+(?i:rue|avenue|boulevard|bd|chemin|impasse|place|allée"
    r"|quai)\s+(?:(?:de|du|des|de la|d')\s*)?" + _CAP + r"(?:\s+" + _CAP + r")?"
    # "Rue Sainte-Catherine 112": the number after the name
    r"|\b(?i:rue|avenue|boulevard|chemin|impasse|quai)\s+"
    + _STREET_PARTICLE
    + r"?"
    + _CAP
    + r"(?:\s+"
    + _CAP
    + r")?\s+\d{1,4}\b"
)
_ADDRESS_CUED = re.compile(
    r"(?i)\b(?:i live at|lives? at|living at|my address is|address is|address:|moved to"
    r"|deliver(?:ed|y)? (?:it )?to|send (?:it|them|the \w+) to|ship(?:ped)? to)\s+"
    r"(?P<pii>\d{1,5}[a-z]?,?\s+[^.;!?\n]{3,50}?)(?=\s*(?:[.;!?\n]|,\s|$| and | but | please ))"
)
# UK: SW1A 1AA, LS1 4AB, M1 1AE
_POSTCODE_UK = re.compile(r"(?=[A-Z])\b[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}\b")
# The postcode areas of the UK and the Crown dependencies (Royal Mail): booking
# references have the same shape ("KX72QP"), but not a real area.
_UK_POSTCODE_AREAS = _words(
    """ab al b ba bb bd bf bh bl bn br bs bt bx ca cb cf ch cm co cr ct cv cw da dd de dg dh
    dl dn dt dy e ec eh en ex fk fy g gir gl gu gy ha hd hg hp hr hs hu hx ig im ip iv je ka
    kt kw ky l la ld le ll ln ls lu m me mk ml n ne ng nn np nr nw ol ox pa pe ph pl po pr rg
    rh rm s sa se sg sk sl sm sn so sp sr ss st sw sy ta td tf tn tq tr ts tw ub w wa wc wd wf
    wn wr ws wv yo ze"""
)


def uk_postcode_check(candidate: str) -> bool:
    """The postcode starts with a real area (its leading letters)."""
    area = re.match(r"[A-Z]+", candidate)
    return area is not None and area.group().lower() in _UK_POSTCODE_AREAS


# Nouns that number things a customer quotes ("Order 58214", "Account 40328"):
# the number after them is a reference, not a postcode.
_REFERENCE_NOUN = (
    r"(?i:order|account|acct|ref|reference|refs|consignment|invoice|ticket|case|claim|policy"
    r"|booking|customer|tracking|complaint|job|member|membership|contract|meter|serial|item"
    r"|parcel|flight|room|seat|table|unit|flat|incident|request|application)"
)
# The two-letter codes of the US states, DC and the territories (a ZIP follows one).
_US_STATE = (
    "AL|AK|AZ|AR|CA|CO|CT|DE|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH"
    "|NJ|NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|DC|PR|GU|VI|AS|MP"
)
_POSTCODE_NUMERIC = re.compile(
    # US ZIP after a state: "CA 94043", "NY 10001-1234"
    r"(?=\d)(?:(?<=\b(?:" + _US_STATE + r") )\d{5}(?:-\d{4})?\b"
    # After a comma or a line break, before a town or at the end: "10115 Berlin",
    # "00-950 Warszawa", "1250-147 Lisboa", "São Paulo, 01310-200"
    # (a plain number right after another is a list of references: "refs 2201, 2237")
    r"|(?:(?<=, )|(?<=,)|(?<=\n))(?:\d{5}-\d{3}|\d{4}-\d{3}|\d{2}-\d{3}"
    r"|(?<!\d, )(?<!\d,)(?:\d{5}|\d{4}))"
    r"(?=\s+[A-ZÀ-ÖØ-ÞĀ-Ž][a-zà-öø-ÿā-ž]|\s*(?:$|[.,\n])))"
)
# After ", Town": "Mumbai 400050", "Tokyo 160-0023".
_POSTCODE_AFTER_TOWN = re.compile(
    r",\s*(?!"
    + _REFERENCE_NOUN
    + r"\s)[A-ZÀ-ÖØ-ÞĀ-Ž][a-zà-öø-ÿā-ž]+(?:\s[A-ZÀ-ÖØ-ÞĀ-Ž][a-zà-öø-ÿā-ž]+)?\s+"
    r"(?P<pii>\d{3}-\d{4}|\d{5}-\d{3}|\d{4,6})\b"
)
_POSTCODE_CUED = re.compile(
    r"(?i)\b(?:zip(?: code)?|post ?code|postal code|plz|cep|pin ?code)(?:\s*(?:is|:|-|=))*\s*"
    r"(?P<pii>(?=[a-z]*\d)[a-z0-9][a-z0-9 -]{2,8}[a-z0-9])(?![\w])"
)

# A name: one to three words, each capitalised (or particles such as "van", "de").
_UP = "A-ZÀ-ÖØ-ÞĀ-Ž"
_LOW = "a-zß-öø-ÿā-ž"
_NAME_WORD = (
    rf"(?:[{_UP}](?:['\u2019][{_UP}])?[{_LOW}]+(?:[{_UP}][{_LOW}]+)?(?:-[{_UP}][{_LOW}]+)?)"
)
_PARTICLE = r"(?:van der|van|von|de la|de|del|da|di|du|le|la|bin|al|el|ter|ten)"
_NAME = r"(?:" + _NAME_WORD + r"(?:[ \t]+(?:" + _PARTICLE + r"[ \t]+)?" + _NAME_WORD + r"){0,2})"
# After a strong cue a name may be written in lower case (voice transcripts).
_ANY_NAME_WORD = r"(?:[a-zA-ZÀ-ÖØ-öø-ÿĀ-ž]['\u2019a-zA-ZÀ-ÖØ-öø-ÿĀ-ž-]+)"
_LOOSE_NAME = r"(?:" + _ANY_NAME_WORD + r"(?:[ \t]+" + _ANY_NAME_WORD + r"){0,2})"

_HONORIFIC = r"(?i:mr|mrs|ms|miss|mx|dr|prof|herr|frau|monsieur|madame|mme|señor|señora|sr|sra)"
_RELATIVE = (
    r"(?:wife|husband|son|daughter|mother|mum|mom|mam|father|dad|partner|brother|sister"
    r"|friend|neighbou?r|grandson|granddaughter|grandmother|grandfather|grandma|grandpa|nan"
    r"|nana|gran|aunt|uncle|nephew|niece|cousin|carer|caregiver|colleague|boss|fianc[ée]e?"
    r"|flatmate|roommate|landlord|landlady|tenant|child|kid|baby|mother-in-law"
    r"|father-in-law|sister-in-law|brother-in-law|stepson|stepdaughter|boyfriend|girlfriend)"
)
# Strong cues: what follows is a name even in lower case ("my name is john smith").
_NAME_STRONG = re.compile(
    r"(?i:\b(?:my name is|my name's|name is|name's|names?\s*[:-]|account holder(?: is|:)?"
    r"|account (?:is )?in the name of|in the name of|under the name|registered to"
    r"|name on (?:the|my) (?:account|card|booking|bill) is|(?:booking|account|reservation|order)"
    r" is under|(?:sur|first |last |full |given |family )names?\s*:|customer\s*:|(?:card ?)?holder\s*:"
    r"|passenger\s*:|guest\s*:|attn\s*:?|for the attention of)\s+)"
    r"(?P<pii>" + _LOOSE_NAME + r")"
)
# "this is chinedu okafor calling": any case, when the intro ends in "calling".
_NAME_CALLING = re.compile(
    r"(?i:\b(?:this is|it's|it is|i'm|im|i am)\s+)(?P<pii>" + _LOOSE_NAME + r")"
    r"(?=\s+(?:calling|speaking)\b)"
)
# "it's dave here": only after "this is" / "it's" and only one or two words that
# pass :func:`here_name_check` ("I'm stuck here", "it's freezing in here" are not names).
_NAME_HERE = re.compile(
    r"(?i:\b(?:this is|it's|it is)\s+)(?P<pii>"
    + _ANY_NAME_WORD
    + r"(?:[ \t]+"
    + _ANY_NAME_WORD
    + r")?)(?=[ \t]+(?i:here)\b)"
)
# Letters spelled out after a name just found ("john smith s m i t h"): the
# masked name is the NUL run the engine leaves in the text it searches.
_NAME_SPELLED = re.compile(r"\x00[ ,]+(?P<pii>(?:[A-Za-z][ -]){2,}[A-Za-z])(?![\w])")
# "Tell Kenji", "reach Grzegorz", "Sven said", "Ana Clara from your branch".
_NAME_OBJECT = re.compile(
    r"\b(?i:tell|ask|reach|contact|thank|cc|forward (?:it )?to|pass (?:it )?to)\s+(?P<pii>"
    + _NAME
    + r")"
)
_OBJECT_WORDS = _words("tell ask reach contact thank cc forward pass")
_NAME_SUBJECT = re.compile(
    r"(?:^|(?<=[.!?]\s)|(?<=\n))(?P<pii>" + _NAME + r")\s+(?:said|told|promised|helped"
    r"|sorted|asked|mentioned|explained|assured|from your|at your|in your)\b",
    re.MULTILINE,
)
_SUBJECT_WORDS = _words("said told promised helped sorted asked mentioned explained assured")
_SUBJECT_CUES = ("from your", "at your", "in your")
# The last line of a message that is only a name (an email signed without a sign-off).
_NAME_LAST_LINE = re.compile(r"\n[ \t]*\n[ \t]*(?P<pii>" + _NAME + r")[ \t]*\Z")
# Weak cues: only a capitalised name counts ("this is Maria", not "this is ridiculous").
_NAME_WEAK = re.compile(
    r"(?=[TtIiYy])(?i:\b(?:this is|it's|it is|i'm|im|i am|you're speaking (?:to|with)"
    r"|you are speaking (?:to|with))\s+)(?P<pii>" + _NAME + r")"
)
_SPOKE_WORDS = _words("spoke speaking spoken talked talking chatted chatting")
_ROLE_WORDS = _words(
    "called named agent adviser advisor rep representative manager engineer driver courier"
    " technician colleague"
)
_GREETING_WORDS = _words("dear hi hello hey morning afternoon thanks thank cheers thx")
_SIGNOFF_WORDS = _words(
    """regards thanks thank cheers best sincerely yours faithfully thx cordialement grüßen
    grüße vous saludos atentamente pozdrawiam poważaniem atenciosamente abraços groet
    groeten saluti wishes"""
)
_SIGNOFF = (
    r"(?:kind regards|best regards|warm regards|warmest regards|regards|many thanks|thanks"
    r"|thank you|with thanks|cheers|best wishes|best|sincerely|yours sincerely"
    r"|yours faithfully|yours truly|yours|thx|bien cordialement|cordialement"
    r"|mit freundlichen grüßen|viele grüße|liebe grüße|beste grüße|bien à vous|saludos"
    r"|un saludo|atentamente|pozdrawiam|z poważaniem|atenciosamente|abraços"
    r"|met vriendelijke groet|groeten|cordiali saluti|distinti saluti)"
)


def _either(words: frozenset[str]) -> str:
    return "(?i:" + "|".join(sorted(words, key=len, reverse=True)) + ")"


_NAME_HONORIFIC = re.compile(r"\b" + _HONORIFIC + r"\.?\s+(?P<pii>" + _NAME + r")")
_NAME_RELATIVE = re.compile(
    r"\b(?i:my|our|his|her|their|the)\s+(?i:" + _RELATIVE + r")"
    r"(?:'s name is|,|\s+(?i:called|named|is called))?\s+(?P<pii>" + _NAME + r")"
)
_NAME_SPOKE = re.compile(
    r"\b" + _either(_SPOKE_WORDS) + r"\s+(?i:to|with)\s+(?P<pii>" + _NAME + r")"
)
_NAME_ROLE = re.compile(r"\b" + _either(_ROLE_WORDS) + r"\s+(?P<pii>" + _NAME + r")")
_NAME_GREETING = re.compile(
    r"(?:^|(?<=[\n.!?]))\s*(?i:dear|hi|hello|hey|good morning|good afternoon|morning"
    r"|thanks|thank you|thx|cheers)\s+(?:" + _HONORIFIC + r"\.?\s+)?"
    r"(?P<pii>" + _NAME + r")(?=\s*[,!.\n]|\s*$)",
    re.MULTILINE,
)
# A sign-off starts its line: "Kind regards,\nPriya Natarajan", "Thanks, Tom".
_NAME_SIGNOFF = re.compile(
    r"^[ \t]*(?i:" + _SIGNOFF + r")(?:[ \t]+(?i:again|anyway|loads|so much|very much|a lot"
    r"|for (?:all )?your help)){0,2},?[ \t]*\n?[ \t]*(?:-+\s*)?"
    r"(?P<pii>" + _NAME + r")(?=[ \t]*(?:\n|$))",
    re.MULTILINE,
)

# States and feelings a customer says they are in ("I'm Stuck", "it's chaos
# here"): not names, and before "here" not a name either.
_STATE_WORDS = _words(
    """stuck sat stood lost cold hot warm wet dark chaos mayhem madness carnage hell murder
    bedlam quiet dead empty busy mad nuts awful grim worse worst broke skint alone lonely
    ill poorly unwell scared afraid terrified panicked petrified fuming livid gutted stressed
    exhausted shattered knackered homeless trapped helpless hopeless useless dire"""
)
# Who a customer says they are, capitalised as they often are ("I'm Deaf",
# "I'm Welsh", "I'm Muslim"): not a name after "I'm".
_IDENTITY_WORDS = _words(
    """deaf deafblind blind hard partially disabled autistic diabetic dyslexic epileptic
    pregnant housebound elderly vulnerable welsh scottish irish english british nigerian
    ghanaian kenyan somali indian pakistani bangladeshi sri chinese japanese korean filipino
    polish romanian italian spanish portuguese french german dutch turkish greek arab
    australian american canadian jamaican muslim jewish hindu sikh buddhist catholic vegan
    vegetarian"""
)
# Capitalised words that follow a cue without being a name.
NOT_NAMES = (
    _STATE_WORDS
    | _IDENTITY_WORDS
    | frozenset(
        _words(
            """
    a an the i me my you your we our he she they it this that there here not no yes so
    very really just still only also too now then again please sorry thanks thank hello
    hi hey ok okay sure fine good great well bad sick tired fed done furious angry upset
    annoyed frustrated confused worried scared desperate disgusted disappointed happy
    calling ringing writing emailing contacting phoning trying going getting having being
    waiting looking asking the a and or but from with about on in at for to of by
    customer customers support service services team billing sales manager management
    sir madam all everyone everybody someone somebody anyone nobody there team staff
    department company bank account card order parcel package delivery refund complaint
    monday tuesday wednesday thursday friday saturday sunday today tomorrow yesterday
    january february march april may june july august september october november december
    premium standard basic plus pro gold silver platinum vip business home mobile
    ridiculous unacceptable outrageous absurd insane crazy terrible awful useless
    regarding re urgent important final last first second third new old same other
    mr mrs ms miss mx dr prof herr frau monsieur madame mme señor señora sr sra sirs
    regards cheers best sincerely faithfully yours wishes as if when after before since
    because kindly hope following attached please can could would will should
    us him her them registered executor executors policyholder cardholder council
    finance ops accounts agent officer executive practice tenant resident admin reception
    housing letting lettings tenancy worker chief head office director anyway loads lots
    diolch"""
        )
    )
)

# Words that end a loosely written name ("this is john calling"), or show there is
# none ("the account holder has died", "the name is correct", "it's um").
_NAME_STOP = NOT_NAMES | frozenset(
    _words(
        """calling speaking here again back about from regarding re with because and but so
        dear has have had is was were are be been died dies deceased dead late passed unwell
        cannot can't can unable won't did does doesn't isn't wasn't correct wrong right
        incorrect spelt spelled misspelled misspelt different missing blank um uh er erm hmm
        like actually basically literally"""
    )
)


def here_name_check(candidate: str) -> bool:
    """A name before "here": no stop word, and no word that reads as a state or an
    action ("freezing", "stuck", "sat", "chaos")."""
    words = candidate.lower().split()
    return not any(word in _NAME_STOP or word.endswith(("ing", "ed")) for word in words)


def name_check(candidate: str) -> bool:
    """A name is not a stop word, nor made of them."""
    words = candidate.lower().split()
    return bool(words) and words[0] not in NOT_NAMES and words[-1] not in NOT_NAMES


def loose_name_trim(candidate: str) -> str:
    """The leading words of a loosely written name, up to the first stop word."""
    kept: list[str] = []
    for word in candidate.split():
        if word.lower().strip(_APOSTROPHES) in _NAME_STOP:
            break
        kept.append(word)
    return " ".join(kept)


_HONORIFIC_WORDS = _words(
    "mr mr. mrs mrs. ms ms. miss mx dr dr. prof prof. herr frau monsieur madame mme señor señora"
    " sr sr. sra sra."
)
_RELATIVE_WORDS = _words(
    """wife husband son daughter mother mum mom mam father dad partner brother sister friend
    neighbour neighbor grandson granddaughter grandmother grandfather grandma grandpa nan nana
    gran aunt uncle nephew niece cousin carer caregiver colleague boss fiance fiancé fiancee
    fiancée flatmate roommate landlord landlady tenant child kid baby mother-in-law
    father-in-law sister-in-law brother-in-law stepson stepdaughter boyfriend girlfriend"""
)
_STRONG_NAME_WORDS = _words(
    "name name's names surname holder registered under customer passenger guest attn attention"
)
_WEAK_NAME_WORDS = _words("it's i'm im you're speaking")
_WEAK_NAME_CUES = ("this is", "it is", "i am")
_STREET_CUE_WORDS = _words(
    "live lives living address moved deliver delivered delivery send ship shipped"
)

_POSTCODE_WORDS = _words("zip postcode post postal plz cep pin pincode")
_DOB_WORDS = _words("birth born dob birthday birthdate")
_CALLING_WORDS = _words("calling speaking")
_CVV_WORDS = _words("cvv cvv2 cvc cvc2 cv2 csc security verification 3-digit digit code")

# Order matters: a span taken by an earlier rule is not looked at again, so the
# specific shapes (and cued numbers) claim their digits before PHONE does. Each
# rule runs only when its cue words (any, in the lower-cased text) and digits are
# there: most messages skip most rules for the price of a substring search.
RULES: tuple[Rule, ...] = (
    Rule("EMAIL", _EMAIL, cues=("@",)),
    Rule("IBAN", _IBAN, trim=iban_prefix, min_digits=4),
    Rule("CARD", _CARD, trim=card_prefix, min_digits=13),
    Rule("DOB", _DOB, words=_DOB_WORDS, cues=("d.o.b",), inner=_DATE_INNER),
    Rule(
        "PASSPORT",
        _PASSPORT,
        words=_words("passport passports passport's pass"),
        min_digits=5,
        inner=_PASSPORT_INNER,
    ),
    Rule("SSN", _SSN_CUED, words=_words("ssn social"), min_digits=9),
    Rule("CVV", _CVV, words=_CVV_WORDS, min_digits=3),
    Rule("SSN", _SSN, cues=("-",), min_digits=9),
    Rule("IP", _IPV4, _ip_valid, cues=(".",), min_digits=4),
    Rule("IP", _IPV6, _ip_valid, cues=(":",)),
    Rule(
        "ADDRESS", _STREET_NUMBERED, numbered_street_check, words=_STREET_TYPE_WORDS, min_digits=1
    ),
    Rule("ADDRESS", _ADDRESS_CUED, words=_STREET_CUE_WORDS, min_digits=1),
    Rule("ADDRESS", _STREET_FRENCH, words=_FRENCH_STREET_WORDS, min_digits=1),
    Rule("ADDRESS", _STREET_SPOKEN, spoken_street_check, words=_STREET_TYPE_WORDS),
    Rule("ADDRESS", _FLAT, words=_FLAT_WORDS, min_digits=1),
    Rule("ADDRESS", _STREET_SUFFIXED, cues=_CONTINENTAL_STREET_WORDS, min_digits=1),
    Rule("ADDRESS", _STREET_PREFIXED, words=_STREET_PREFIX_WORDS, min_digits=1),
    Rule("ADDRESS", _POSTCODE_UK, uk_postcode_check, min_digits=2),
    Rule("ADDRESS", _POSTCODE_NUMERIC, min_digits=4),
    Rule("ADDRESS", _POSTCODE_AFTER_TOWN, cues=(",",), min_digits=4),
    Rule("ADDRESS", _POSTCODE_CUED, words=_POSTCODE_WORDS, min_digits=1),
    Rule("ADDRESS", _STREET_UNNUMBERED, name_check, words=_STREET_TYPE_WORDS),
    Rule("PHONE", _PHONE_INTERNATIONAL, phone_valid, cues=("+", "00"), min_digits=7),
    Rule("PHONE", _PHONE_NATIONAL, phone_valid, min_digits=7),
    Rule("PHONE", _SPACED_DIGITS, spoken_number_check, min_digits=7),
    Rule("PHONE", _SPOKEN_DIGITS, spoken_number_check, words=_DIGIT_WORDS),
    Rule("NAME", _NAME_HONORIFIC, name_check, words=_HONORIFIC_WORDS),
    Rule("NAME", _NAME_RELATIVE, name_check, words=_RELATIVE_WORDS),
    Rule("NAME", _NAME_SPOKE, name_check, words=_SPOKE_WORDS),
    Rule("NAME", _NAME_ROLE, name_check, words=_ROLE_WORDS),
    Rule("NAME", _NAME_GREETING, name_check, words=_GREETING_WORDS),
    Rule("NAME", _NAME_SIGNOFF, name_check, words=_SIGNOFF_WORDS),
    Rule("NAME", _NAME_WEAK, name_check, words=_WEAK_NAME_WORDS, cues=_WEAK_NAME_CUES),
    Rule("NAME", _NAME_STRONG, trim=loose_name_trim, words=_STRONG_NAME_WORDS),
    Rule("NAME", _NAME_CALLING, trim=loose_name_trim, words=_CALLING_WORDS),
    Rule("NAME", _NAME_HERE, here_name_check, words=_words("here")),
    Rule("NAME", _NAME_OBJECT, name_check, words=_OBJECT_WORDS),
    Rule("NAME", _NAME_SUBJECT, name_check, words=_SUBJECT_WORDS, cues=_SUBJECT_CUES),
    Rule("NAME", _NAME_LAST_LINE, name_check, cues=("\n",)),
    Rule("NAME", _NAME_SPELLED, after_spans=True),
)

# Identifiers are checked for what identifies a customer outright: an email
# address, an IBAN, an international phone number. Plain numbers are left alone:
# platforms number their tickets and conversations.
IDENTIFIER_RULES = tuple(
    rule for rule in RULES if rule.pattern in (_EMAIL, _IBAN, _PHONE_INTERNATIONAL)
)
