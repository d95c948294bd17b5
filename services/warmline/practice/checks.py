"""Feedback on a practice opening: what the reply says, checked phrase by phrase.

Each check is explicit and explainable: it names the words it found, or says
what would help. They read the reply's content only; nothing here estimates
how the agent feels (no emotion recognition of the worker, EU AI Act
Art. 5(1)(f)), and nothing here keeps the reply or the result.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: The checks, in the order they are shown.
CHECKS = (
    "acknowledges_emotion",
    "takes_ownership",
    "avoids_blame",
    "promises_only_what_it_can_keep",
    "invites_next_step",
)

_ACKNOWLEDGES = re.compile(
    r"\b(?:i'?m (?:so |really |very )?sorry|sorry|apologi[sz]e|i understand|understandabl[ey]"
    r"|i can (?:see|hear|imagine|understand)|i hear you|(?:that|this|it) (?:sounds|must be"
    r"|must have been|is) (?:\w+ )?(?:frustrating|stressful|upsetting|difficult|hard|awful"
    r"|worrying|annoying|disappointing|exhausting|confusing)|frustrat\w*|upset\w*"
    r"|disappoint\w*|worr(?:y|ied|ying)|stress\w*|that'?s not (?:ok|okay|right|good enough)"
    r"|thank you for (?:your patience|bearing with|telling|explaining))"
)
_OWNS = re.compile(
    r"\b(?:i will|i'?ll|let me|i'?m going to|i am going to|i'?m (?:now )?(?:looking|checking"
    r"|taking|sorting|fixing)|i can (?:fix|sort|check|look|help|arrange|refund|correct|put)"
    r"|i'?ve (?:already )?(?:started|opened|raised|checked|asked|escalated)|i'?m on it"
    r"|leave it with me|i'?ll make sure|i'?ll personally)"
)
_BLAMES = re.compile(
    r"\b(?:you should(?:n'?t)? have|your (?:own )?fault|you (?:didn'?t|did not|failed to"
    r"|forgot to|never read)|you need to (?:read|check|understand|calm)|as (?:i|we) (?:already )?"
    r"(?:said|told you|explained)|calm down|(?:that'?s|it'?s) (?:just )?(?:our|the) policy"
    r"|not our (?:fault|problem)|you must have|you were supposed to|you misunderstood"
    r"|obviously|nothing (?:i|we) can do)"
)
_OVERPROMISES = re.compile(
    r"\b(?:guarantee\w*|i promise|promise you|definitely|for sure|certainly will"
    r"|absolutely will|100 ?%|(?:won'?t|will never|never) happen again|by tomorrow"
    r"|by (?:tonight|today|the end of (?:the )?day)|within (?:the|an|one) hour"
    r"|no matter what)"
)
_INVITES = re.compile(
    r"\?|\b(?:could you|can you|would you|will you|shall i|should i|let me know|tell me"
    r"|if you (?:can|could|like|prefer)|would it help|does that (?:work|sound)"
    r"|are you (?:able|happy|ok)|please (?:send|share|confirm|tell|reply|check))"
)


@dataclass(frozen=True, slots=True)
class Check:
    """One check of a reply: its name, whether it passed, and why."""

    name: str
    passed: bool
    note: str


def review_reply(reply: str) -> list[Check]:
    """The five checks of ``reply``, in :data:`CHECKS` order."""
    text = reply.lower().replace("\u2019", "'")
    # Notes quote the reply as written, where lower-casing kept its length.
    said = reply if len(text) == len(reply) else text
    acknowledged = _ACKNOWLEDGES.search(text)
    owned = _OWNS.search(text)
    blamed = _BLAMES.search(text)
    promised = _OVERPROMISES.search(text)
    invited = _INVITES.search(text)

    def quoted(match: re.Match[str] | None) -> str:
        if match is None:
            return ""
        return (
            "a question to the customer"
            if match.group() == "?"
            else f"'{said[match.start() : match.end()]}'"
        )

    return [
        Check(
            "acknowledges_emotion",
            acknowledged is not None,
            quoted(acknowledged)
            or "Say what you hear before solving: 'I can hear how frustrating this has been.'",
        ),
        Check(
            "takes_ownership",
            owned is not None,
            quoted(owned) or "Say what you will do yourself: 'Let me look into this now.'",
        ),
        Check(
            "avoids_blame",
            blamed is None,
            f"sounds like blame: {quoted(blamed)}" if blamed else "no blame on the customer",
        ),
        Check(
            "promises_only_what_it_can_keep",
            promised is None,
            f"a promise that may not hold: {quoted(promised)}; say what you will do, "
            "and when you will update them"
            if promised
            else "no promise beyond what you can do",
        ),
        Check(
            "invites_next_step",
            invited is not None,
            quoted(invited)
            or "End with what happens next, or a question: 'Could you tell me the order number?'",
        ),
    ]
