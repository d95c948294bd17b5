"""Rule-based detectors over customer text (English).

Each word list lives in exactly one constant below, so reviewing what the rules
catch means reading one place. Patterns are case-insensitive regular expressions;
they favour precision over recall because a false escalation costs an agent's time
while a missed one is usually caught a turn later by the emotion signals.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

_PERSON = (
    r"(?:human(?:\s+being)?|person|agent|representative|rep|manager|supervisor|operator"
    r"|advis[oe]r|consultant|specialist|team\s+member|executive"
    r"|some(?:one|body)(?:\s+(?:real|else|human|in\s+person))?|real\s+(?:person|human|agent)"
    r"|live\s+agent|people|member\s+of\s+(?:staff|the\s+team|your\s+team))"
)

# Who a customer asks to hear from, and how ("grateful if a manager could contact me").
_SENIOR = r"(?:manager|supervisor|team\s+leader|human|real\s+person)"
_CONTACT_VERB = r"(?:ring|call|phone|telephone|contact|email|tell|look|check|help)"

#: Ways customers ask for a person. Each pattern needs a request verb or stands
#: alone as the whole message, so "the agent said" or "my travel agent" never match.
HUMAN_REQUEST_PATTERNS: tuple[str, ...] = (
    rf"\b(?:talk|speak|chat)\s+(?:to|with)\s+(?:one\s+of\s+)?(?:a|an|some|your|the)?\s*(?:real\s+|actual\s+|live\s+)?"
    rf"(?:(?:account|senior|duty|complaints?|customer\s+(?:service|care|support)|support|billing|sales)\s+)?"
    rf"(?:{_PERSON}|technicians?|engineers?|seniors?)\b",
    # "a person please", "real human pls"
    r"\b(?:a|real|actual)\s+(?:real\s+)?(?:person|human)\s*,?\s*(?:please|pls|plz)\b",
    rf"\b(?:can|could|may)\s+i\s+(?:please\s+|just\s+)?(?:get|have|speak\s+to|talk\s+to)\s+(?:a|an)\s+(?:real\s+|actual\s+|live\s+)?{_PERSON}\b",
    # "I would prefer to discuss this with a member of your mortgage team directly"
    rf"\bdiscuss\s+(?:this|it|the\s+\w+|my\s+\w+)\s+with\s+(?:a|an|some|your|the)?\s*(?:{_PERSON}|member\s+of\s+(?:your|the)\s+(?:\w+\s+)?team)\b",
    rf"\b(?:want|need|get\s+me)\s+(?:a|an)\s+(?:real\s+|actual\s+|live\s+)?{_PERSON}\b",
    rf"\b(?:connect|transfer|put)\s+me\s+(?:through\s+)?(?:to|with|on\s+to|onto)\s+(?:a|an|some|your)?\s*"
    rf"(?:(?:customer\s+)?(?:care|service|support)\s+)?{_PERSON}\b",
    # "please could a person ring me today", "can someone call me back"
    rf"\b(?:can|could|please|would)\s+(?:a|an|some)?\s*{_PERSON}\s+(?:please\s+)?"
    r"(?:ring|call|phone|telephone|contact|email)\s+me\b",
    # "grateful if a manager could contact me", "can a human tell me where it is"
    rf"\b(?:a|an)\s+{_SENIOR}\s+(?:could|can)\s+(?:please\s+)?{_CONTACT_VERB}\b",
    rf"\b(?:can|could|would)\s+(?:a|an)\s+{_SENIOR}\s+(?:please\s+)?{_CONTACT_VERB}\b",
    # "I want a call from someone senior", "grateful for a call from a manager"
    rf"\b(?:want|like|need|expect|request|grateful\s+for|appreciate)\s+(?:a\s+)?(?:call|ring|callback|call\s*back"
    rf"|phone\s+call)\s+from\s+(?:a|an|your|some)?\s*(?:senior\s+)?{_PERSON}\b",
    r"\bsome(?:one|body)\s+(?:senior|with\s+(?:the\s+|some\s+)?authority)\b",
    # "get me someone who can actually look at it", not "get me someone out to the boiler"
    r"\bget\s+me\s+some(?:one|body)\s+(?:else|real|competent|senior|on\s+the\s+(?:phone|line)"
    r"|to\s+(?:talk|speak)|who\s+(?:can\s+)?actually)\b",
    # "please pass this to your complaints department", "I'd like my complaint passed
    # to a manager", "kindly escalate this matter to a higher authority"
    # (not "transfer": "send an e-transfer to someone who isn't in my contacts")
    r"\b(?:pass|escalat|forward|refer|hand)\w*\s+(?:[\w']+\s+){0,3}?(?:on\s+|over\s+|up\s+)?to\s+"
    r"(?:(?:a|an|your|the)\s+(?:(?:more\s+)?senior\s+|higher\s+)?(?:manager|supervisor|team\s+leader"
    r"|complaints?\s+(?:department|team)|authority)|some(?:one|body)\s+(?:who|that|senior|more\s+senior))\b",
    # "could you pass it to a support engineer", "escalate this to your tech team"
    rf"\b(?:pass|escalate|hand|refer)\s+(?:it|this|me)\s+(?:on\s+|over\s+)?to\s+(?:a|an|some|your|the)?\s*"
    rf"(?:(?:support|technical|tech|specialist)\s+)?(?:engineer|team|{_PERSON})\b",
    # "open a ticket with a human", "someone real", "is there nobody I can talk to"
    r"\b(?:with|to|from|get|need|want)\s+a\s+human\b",
    r"\bsome(?:one|body)\s+real\b",
    # "handled by a named person, not another automated reply"
    r"\bby\s+a\s+(?:named|proper|living)\s+(?:person|human(?:\s+being)?)\b",
    # "is there anyone in Reviews I can actually speak to", "is there not someone who
    # could just take it over the phone"
    # "is there nobody on your end who can sit down with this booking", "anyone in the
    # office ... I could go through this with", "if there's somebody there I can
    # actually talk to", "is there a person there I could have a yarn to"
    r"\b(?:is\s+there|if\s+there'?s|if\s+there\s+is)\s+(?:not\s+)?(?:anyone|anybody|someone|somebody|nobody|no\s*one"
    r"|a\s+(?:real\s+)?(?:person|human))\b[^.?!]{0,80}"
    r"\b(?:speak|talk|yarn|go\s+through|sit\s+down\s+with|over\s+the\s+phone|call\s+me|ring\s+me)\b",
    # "grateful if someone from the repair centre who can check the order could call me"
    r"\bif\s+some(?:one|body)\b[^.?!]{0,80}\bcould\s+(?:please\s+|just\s+)?(?:ring|call|phone|telephone|contact"
    r"|email)\s+me\b",
    # "a meeting with someone who is able to take this forward", "someone who can sort it"
    r"\bsome(?:one|body)\s+(?:who|that)\s+(?:is\s+able\s+to|can|could|will)\s+(?:actually\s+|properly\s+)?"
    r"(?:take\s+(?:this|it)\s+forward|deal\s+with\s+(?:this|it)|sort\s+(?:this|it))\b",
    r"\b(?:nobody|no\s*one|anyone|anybody|someone|somebody)\s+(?:i|we)\s+(?:can|could)\s+(?:talk|speak|chat)\s+(?:to|with)\b",
    # "is there a living, breathing person I can talk to"
    r"\b(?:a|an|one)\s+(?:[\w-]+,?\s+){0,2}(?:person|human(?:\s+being)?)\s+(?:i|we)\s+(?:can|could)\s+(?:talk|speak|chat)"
    r"\s+(?:to|with)\b",
    # "real person" on its own, but not "I'm a real person"; "an actual member of staff"
    r"\b(?<!i'm a )(?<!i am a )(?:real|actual|live)\s+(?:human|person|agent|people|member\s+of\s+staff)\b",
    # "somebody who isn't a script", "someone who is not a bot"
    r"\bsome(?:one|body)\s+(?:who|that)\s+(?:isn'?t|is\s+not)\s+(?:a\s+)?(?:script|bot|robot|machine|computer)",
    # "grateful if a claims manager would telephone me", "if someone could ring me"
    rf"\bif\s+(?:a|an|your|some)?\s*(?:[\w-]+\s+)?{_PERSON}\s+(?:could|would|can)\s+(?:please\s+|just\s+)?"
    r"(?:ring|call|phone|telephone|contact|email)\s+me\b",
    # "resolve this by speaking to someone directly"
    r"\b(?:speaking|talking)\s+to\s+(?:some(?:one|body)|a\s+(?:real\s+)?(?:person|human))\s+"
    r"(?:directly|in\s+person|properly)\b",
    # "talk it through with an adviser", "book us in with someone", "I'd like a person to look at this"
    rf"\btalk\s+(?:it|this|things|them)\s+(?:through|over)\s+with\s+(?:a|an|some|your|the)?\s*{_PERSON}\b",
    rf"\bbook\s+(?:me|us)\s+(?:in\s+)?with\s+(?:a|an|some|your|the)?\s*{_PERSON}\b",
    rf"\b(?:like|want|need)\s+(?:a|an)\s+(?:real\s+|actual\s+)?{_PERSON}\s+to\s+(?:look\s+at|check|review|deal\s+with"
    r"|handle)\b",
    r"\b(?:agent|human|representative|operator|manager)\s+(?:please|pls|plz)\b",
    # The whole message is just the word: "operator", "Representative!!".
    r"^\W*(?:agent|human|representative|operator|a\s+human|a\s+person)\W*$",
    # "I'd like to speak to one of the pharmacists", "talk to one of your engineers"
    r"\b(?:talk|speak|chat)\s+(?:to|with)\s+one\s+of\s+(?:the|your)\s+[\w-]+s\b",
    # "I would now like the branch manager to telephone me"
    rf"\b(?:like|want|need|ask)\s+(?:the|a|an|your)\s+(?:[\w-]+\s+)?(?:{_SENIOR}|{_PERSON})\s+to\s+"
    r"(?:ring|call|phone|telephone|contact|email)\s+me\b",
    # "I'd rather go through it with somebody", "... with one of the lads on the desk"
    r"\b(?:rather|prefer(?:\s+to)?|like\s+to|want\s+to|need\s+to)\s+(?:(?:go|talk|run)\s+(?:through|over)\s+"
    r"(?:it|this|that|things|them)|(?:talk|run)\s+(?:it|this|that|things|them)\s+(?:through|over))\s+with\s+(?:some(?:one|body)|a\s+(?:real\s+)?(?:person|human|member)|one\s+of\b"
    r"|whoever)",
    # "can I be put through to one of your advisers", "talk with whoever runs the schedule"
    r"\b(?:be|get)\s+put\s+through\s+to\s+(?:one\s+of\s+(?:your|the)\s+\w+|a|an|some(?:one|body)|whoever|your)\b",
    r"\b(?:talk|speak|chat)\s+(?:to|with)\s+whoever\b",
    # "I would like this to be handled by a technician or a supervisor"
    r"\b(?:like|want|need)\s+(?:this|it)\s+(?:to\s+be\s+)?(?:handled|looked\s+at|dealt\s+with|reviewed)\s+by\s+"
    r"(?:a|an|your|some(?:one|body))\b",
)

# A relative, and a death told of them ("passed" alone is also passing a test).
_RELATIVE = (
    r"(?:husband|wife|mother|father|mum|mom|dad|son|daughter|partner|brother|sister"
    r"|grandmother|grandfather|child|gran|grandma|grandpa|aunt|uncle)"
)
_DIED = r"(?:died|passed\s+(?:away|on|recently|last|yesterday|earlier))"
# A death told of "he", "she" or "who": a person's, unless the message is of a pet's.
_PRONOUN_DIED = rf"\b(?:he|she|who)\s+(?:has\s+|had\s+|just\s+|sadly\s+)?{_DIED}\b"
# A payment, then the start of the next sentence (what the customer says of it there).
_PAYMENT_NEXT_SENTENCE = (
    r"\b(?:payment|charge|transaction|debit|pending)s?\b(?:[^.?!]|\.\d){0,100}[.?!]\s+"
)
# A payment, then within the sentence (amounts like 49.99 allowed) what the customer says of it.
_PAYMENT_THEN = (
    r"\b(?:payment|charge|transaction|debit|withdrawal|transfer)s?\b(?:[^.?!]|\.\d){0,100}\b"
)

#: The words "fraud" and "scam": a case of fraud, unless the message only asks about
#: fraud (see :data:`FRAUD_ENQUIRY_PATTERNS`).
FRAUD_WORD_PATTERNS: tuple[str, ...] = (r"\bfraud\w*", r"\bscam\w*")

#: Questions about fraud that report no case of it: how the checks work, the fraud
#: line's number, protecting a relative, a phishing message to report, a flagged
#: payment the customer made. A bot answers these; they name fraud only through
#: :data:`FRAUD_WORD_PATTERNS` and tell of no loss (:data:`FRAUD_REPORT_PATTERNS`).
FRAUD_ENQUIRY_PATTERNS: tuple[str, ...] = (
    # "flagged for fraud ... it was literally me", "asking if I made it. I did actually lol"
    r"\b(?:it|that|this)\s+was\s+(?:literally\s+|actually\s+|just\s+|only\s+|definitely\s+)?me\b",
    r"\bi\s+did(?:\s+actually)?\s*(?:lol|haha|[.!,])",
    r"\bwas\s+(?:that|this|it)\s+(?:your|the)\s+fraud\s+(?:check|team|system|block|alert)",
    r"\bhow\s+(?:do\s+|does\s+|will\s+)?(?:the\s+|your\s+|my\s+)?fraud\s+(?:checks?|protection|alerts?|monitoring)"
    r"\s+work",
    r"\b(?:number|contact\s+details)\s+(?:for|of)\s+(?:your|the)\s+fraud\s+(?:line|team|department)",
    r"\bfraud\s+(?:line|team|department)\b[^.?!]{0,30}\bin\s+case\b",
    r"\bprotect\b[^.?!]{0,60}\b(?:from|against)\s+(?:\w+\s+)?(?:scams?|fraud)",
    r"\b(?:hearing|heard|read|reading|seen|saw)\b[^.?!]{0,30}\babout\b[^.?!]{0,40}\bscams?\b",
    r"\breport\s+(?:a|this|the)\s+scam\s+(?:email|text|message|call|site|website|link)",
    r"\bscam,?\s+right\b",
    # "Didn't click it. Is it a scam?", "is this real or a scam"
    r"\b(?:is|was)\s+(?:it|this|that)\s+(?:really\s+|just\s+)?(?:a\s+)?scam\b",
    r"\b(?:real|genuine|legit\w*)\s+or\s+(?:a\s+)?scam\b",
    # a card stopped by the fraud checks, and how to avoid it abroad: "blocked for
    # suspected fraud in the middle of the trip", "a travel notice so it doesn't get flagged"
    r"\b(?:flagged|blocked|declined|frozen|stopped|locked)\s+(?:as|for)\s+(?:suspected\s+|possible\s+|potential\s+)?fraud",
    r"\btravel\s+(?:notice|plans?|notification)",
)

#: A loss or a denial, which no enquiry wording outweighs: "I've already sent it",
#: "I think I've been scammed", "the money is gone", "they said it was me but it wasn't".
FRAUD_REPORT_PATTERNS: tuple[str, ...] = (
    r"\b(?:i|we|he|she|they)(?:'ve|\s+have|\s+had|'d)?\s+(?:already\s+|just\s+)?"
    r"(?:paid|sent|transferred|moved|gave|given|clicked|entered|lost|handed)\b",
    r"\b(?:took|taken|stole|drained|emptied|cleared\s+out)\b",
    r"\b(?:they'?ve|they\s+have)\s+(?:already\s+)?got\b",
    r"\b(?:been|got|was|were|being)\s+scammed\b",
    r"\bfell\s+for\b",
    r"\bmoney\s+(?:is\s+|has\s+)?(?:gone|missing)\b",
    r"\b(?:it|that|this)\s+(?:wasn'?t|was\s+not)\b",
    r"\b(?:wasn'?t|was\s+not|not)\s+me\b",
    r"\b(?:i|we)\s+(?:didn'?t|did\s+not|never)\s+(?:make|made|authori[sz]e|buy|bought|order|spend|spent)\b",
)

#: A payment the customer first did not know and then placed as their own: "at
#: first I didn't recognise it, but I checked and it's my music subscription".
FRAUD_RESOLVED_PATTERNS: tuple[str, ...] = (
    r"\b(?:at\s+first|initially)\b[^.?!]{0,40}\b(?:didn'?t|did\s+not)\s+recogni[sz]e\b[^.?!]{0,20}\bbut\b",
    r"\bturn(?:s|ed)\s+out\s+(?:it\s+was|it'?s|that\s+was|that'?s)\s+(?:just\s+)?(?:my|mine|me)\b",
    r"\bi\s+(?:checked|realised|realized|worked\s+(?:it\s+)?out|figured\s+(?:it\s+)?out)\s+(?:and\s+)?(?:that\s+)?"
    r"(?:it'?s|it\s+was)\s+(?:just\s+)?(?:my|mine|me)\b",
)

#: Sensitive topics and the phrases that reveal them. Routed to specialist care.
# A gas smell, not "no smell of gas, just no heat". (The word boundary comes first:
# a pattern opening with a lookbehind makes the whole screen ten times slower.)
_GAS_EMERGENCY = (
    r"\b(?<!no\s)(?<!not\sa\s)(?:smell(?:s|ing)?\s+(?:of\s+|like\s+)?gas|gas\s+(?:leak|smell)|carbon\s+monoxide"
    # what gas smells of: "a rotten egg kind of smell by the meter"
    r"|rotten[-\s]eggs?\b[^.?!]{0,20}\bsmell|smell\w*\s+(?:like|of)\s+rotten\s+eggs?"
    # "a bit of a funny smell in the kitchen as well like eggs"
    r"|smell\b[^.?!]{0,50}\blike\s+(?:rotten\s+)?eggs?)\b"
)

# Stranded: "broken down on the motorway, it's dark", "I'm on my own at the station"
_STRANDED = (
    r"\b(?:stranded|broken\s+down|conked\s+out|(?:i'?m|i\s+am)\s+(?:on\s+my\s+own|alone)\s+(?:at|on|in))\b"
    r"[^.?!]{0,60}\b(?:dark|night|midnight|station|roadside|hard\s+shoulder|motorway|highway"
    r"|middle\s+of\s+nowhere)\b"
)

SENSITIVE_TOPIC_PATTERNS: dict[str, tuple[str, ...]] = {
    "health": (
        r"\bhospital(?:i[sz]ed)?\b",
        r"\bdiagnos(?:is|ed|es)\b",
        # an operation, not the doctor's: "his GP surgery", "the dental surgery"
        r"\b(?<!gp\s)(?<!doctors\s)(?<!doctor's\s)(?<!dental\s)(?<!dentist's\s)surgery\b",
        r"\bchemo(?:therapy)?\b",
        r"\bcancer\b",
        r"\bterminal(?:ly)?\s+ill\b",
        r"\bmedical\s+(?:emergency|condition|treatment)\b",
        # symptoms the customer tells of: "he feels a bit light headed"
        r"\b(?:feels?|feeling|felt)\s+(?:a\s+bit\s+|quite\s+|really\s+|very\s+|so\s+)?(?:light[-\s]?headed|dizzy|faint"
        r"|breathless)\b",
        r"\b(?:chest\s+pains?|can'?t\s+breathe|struggling\s+to\s+breathe)\b",
        r"\b(?:wrong|someone\s+else'?s)\s+(?:medication|medicine|tablets|pills|prescription|dose)\b",
    ),
    "bereavement": (
        r"\bpassed\s+away\b",
        r"\bfuneral\b",
        # "bereaved", "a bereavement": not "your bereavement team" or "a bereavement fare",
        # which name a service (a follow-up, a question), not a death
        r"\bbereave\w*+(?!\s+(?:team|fares?|polic(?:y|ies)|department|line|service|services|support"
        r"|unit|desk|form|process|leave|rates?|discounts?))",
        r"\bdeceased\b",
        r"\bdeath\s+in\s+the\s+family\b",
        # "died" only of a person: "my phone died" is not a bereavement.
        rf"\b(?:my|our|his|her)\s+{_RELATIVE}\s+(?:has\s+|had\s+|just\s+)?{_DIED}\b",
        # "she died in January", "my father, who died on the 4th", "my late mother's account"
        _PRONOUN_DIED,
        rf"\bmy\s+late\s+{_RELATIVE}\b",
        r"\b(?:death\s+certificate|date\s+of\s+death|probate|executor\s+of)\b",
    ),
    "fraud": (
        *FRAUD_WORD_PATTERNS,
        r"\bstolen\s+(?:card|identity|account|credit\s+card)\b",
        r"\bidentity\s+theft\b",
        r"\bunauthori[sz]ed\s+(?:charge|transaction|payment|withdrawal)s?\b",
        r"\bcharges?\s+i\s+(?:did\s+not|didn't|never)\s+make\b",
        # "a payment on my card I don't recognise", "a direct debit I didn't set up"
        rf"{_PAYMENT_THEN}(?:i|we)\s+(?:don'?t|do\s+not|didn'?t|did\s+not|never|have\s+not|haven'?t)\s+"
        r"(?:recogni[sz]ed?|authori[sz]ed?|set\s+(?:it|this|that)\s+up|(?:make|made|do)\b(?:\s+(?:it|this|that|them|any))?"
        # ... where the sentence or clause ends: "a payment I didn't make, 240 each", never
        # "a payment ... I don't make enough" or "I didn't do anything different"
        r"(?=[ \t]*(?:[.,:;!?)\n\r]|$)|\s+(?:and|but|or|yesterday|today|last|on|at|to|from|with|i|i'm|im"
        r"|transfers?|payments?|purchases?|transactions?)\b))",
        # "I did NOT authorise this", "I have not authorised any further payments"
        r"\b(?:i|we)\s+(?:have\s+not|haven'?t|did\s+not|didn'?t|never)\s+authori[sz]ed?\s+"
        r"(?:any|this|these|the|that|those|it|them)\b",
        # "3 orders on here I didn't place", "purchases I never made"
        # (the orders' details may come between: "orders on my account from last night that I didn't place")
        r"\b(?:orders?|purchases?|bookings?)\b[^.?!]{0,50}?\b(?:i|we)\s+"
        r"(?:didn'?t|did\s+not|never|haven'?t|have\s+not)\s+(?:place|make|made|placed|order|ordered)\b",
        rf"{_PAYMENT_THEN}(?:i'?ve|we'?ve|i\s+have|i|we)\s+never\s+heard\s+of\b",
        # "three charges from your service on my statement. I've never had an account with you."
        rf"(?:{_PAYMENT_THEN}|{_PAYMENT_NEXT_SENTENCE}[^.?!]{{0,40}}?)(?:i'?ve|we'?ve|i\s+have|we\s+have)\s+"
        r"never\s+(?:had\s+an\s+account|signed\s+up|subscribed|been\s+a\s+customer)\s+(?:with|to)\s+(?:you|your|them)",
        # the denial in the next sentence: "a payment of £240 to a shop in Leeds. I've never
        # been to Leeds and I didn't make it", "one pending for $312 ... i didn't buy that"
        rf"{_PAYMENT_NEXT_SENTENCE}[^.?!]{{0,60}}"
        r"\b(?:i|we)\s+(?:didn'?t|did\s+not|never)\s+(?:make|made|buy|bought|authori[sz]e\w*)\s+"
        r"(?:it|this|that|them)\s*(?:[.,!?]|$)",
        # the payee in the next sentence: "a payment to 'Novastream Media' ... I've never heard of them"
        rf"{_PAYMENT_NEXT_SENTENCE}(?:i'?ve|we'?ve|i\s+have)"
        r"\s+never\s+heard\s+of\b",
        # changes to the account the customer denies: a new device or card, a loan, the number moved
        r"\b(?:new\s+(?:device|payee|sim|card|account|loan|phone|plan|agreement)|loan|credit\s+(?:card|application)"
        r"|(?:number|sim)\b[^.?!]{0,20}\b(?:moved|ported|transferred|swapped|changed|updated))\b[^?!]{0,120}"
        r"\bi\s+(?:haven'?t|have\s+not|didn'?t|did\s+not|never|don'?t\s+remember)\s+"
        r"(?:added|add|ask\w*|appl\w*|request\w*|set\s+up|open\w*|order\w*)",
        # "£340 gone out of my bank to you lot for a phone, and I haven't bought a phone"
        r"(?:[£$€]\s?\d[\d,.]*|money)\s+(?:has\s+)?(?:gone|went|come|been\s+taken)\s+out\b[^.?!]{0,80}\b(?:i|we)\s+"
        r"(?:haven'?t|have\s+not|didn'?t|did\s+not|never)\s+(?:bought|ordered|purchased|made|authori[sz]ed)\b",
        # "my login email had been changed, which wasn't me"
        r"\b(?:email|password|login|number|address|details|pin)\s+(?:had\s+been|has\s+been|was|were)\s+changed\b"
        r"[^.?!]{0,40}\b(?:wasn'?t|was\s+not|not)\s+me\b",
        # "I don't know who's been riding around on my dime", "someone's been using my card"
        r"\b(?:don'?t|do\s+not)\s+know\s+who(?:'s|\s+has|\s+is)\s+(?:been\s+)?(?:using|riding|spending|ordering|buying"
        r"|charging)\b",
        r"\bsome(?:one|body)(?:'s|\s+has|\s+is)?\s+(?:been\s+)?using\s+my\s+(?:card|account|details)\b",
        # A fraud alert the customer answers no to: "asking if I made a purchase ... I didn't"
        r"\bif\s+i\s+(?:made|authori[sz]ed)\s+(?:a|this|the|that)\b[^!?]{0,100}\bi\s+(?:didn'?t|did\s+not|never)\b",
        # A transfer or payment the customer never asked for: "a letter confirming a
        # transfer out of my pension ... I didn't ask for any transfer"
        r"\b(?:transfer|payment|withdrawal|loan|direct\s+debit)s?\b[^?!]{0,120}\b(?:i|we)\s+(?:didn'?t|did\s+not|never)\s+"
        r"(?:ask\s+for|request(?:ed)?|apply\s+for|applied\s+for|agree\s+to|agreed\s+to)\s+(?:any|this|that|it|the|a|one)\b",
    ),
    "legal": (
        r"\blawyers?\b",
        r"\battorneys?\b",
        r"\bsolicitors?\b",
        r"\bsu(?:e|ing)\b",
        # Court as a place of law, not a food court or a tennis court.
        r"\b(?:to|in)\s+court\b",
        r"\bcourt\s+(?:case|order|action|claim)\b",
        r"\blegal\s+action\b",
    ),
    "safety": (
        r"\bsuicid\w*",
        r"\bkill\s+myself\b",
        r"\bend\s+my\s+life\b",
        r"\bself[-\s]?harm\w*",
        r"\bhurt\s+myself\b",
        r"\bin\s+danger\b",
        r"\bnot\s+safe\b",
        r"\bthreaten(?:ed|ing)?\s+(?:me|my)\b",
        r"\bdomestic\s+(?:violence|abuse)\b",
        _GAS_EMERGENCY,
        _STRANDED,
        # "a hot plasticky burning smell coming off it", sparks or smoke from an appliance
        r"\b(?:burning\s+smell|smell\w*\s+(?:of\s+|like\s+)?(?:something\s+)?burning|sparks?\s+(?:coming|from|out)"
        r"|smoke\s+(?:coming|pouring))\b",
        # stranded by a busy road: "on the shoulder of the highway ... the lorries are
        # passing very close"
        r"\b(?:on|at)\s+the\s+(?:hard\s+)?shoulder\s+of\s+the\s+(?:highway|motorway|road|freeway|expressway)\b",
        r"\b(?:lorries|trucks|cars|traffic)\s+(?:are\s+|is\s+)?(?:passing|going|flying|whizzing)\s+(?:very\s+|so\s+|really\s+)?"
        r"close\b",
        # a stranger's menace: "the driver asked was I home by myself"
        r"\basked\s+(?:me\s+)?(?:if|whether|was)\s+i\s+(?:was\s+)?(?:home\s+)?(?:alone|by\s+myself|on\s+my\s+own)\b",
        # a driver asleep at the wheel or driving on the wrong side
        r"\b(?:falling|fell|nodding|nodded|dozing)\s+(?:off\s+|asleep\s+)?(?:at\s+the\s+wheel|at\s+the\s+(?:red\s+)?lights?"
        r"|while\s+(?:he|she|they)\s+(?:was|were)\s+driving)\b",
        r"\b(?:dangerous|reckless|drunk|drink)\s+(?:driving|driver)\b",
        r"\b(?:opposite|oncoming|wrong)\s+(?:lane|side\s+of\s+the\s+road)\b",
        # water reaching the electrics, a ceiling come down
        r"\b(?:water|leak\w*|flood\w*)\b[^.?!]{0,80}\b(?:sockets?|electrics|fuse\s*box|light\s+fittings?)\b",
        r"\bceiling\b[^.?!]{0,20}\b(?:come|came|coming|fallen|fell|collaps\w*|caved)\s+(?:down|in)\b",
    ),
}

#: A death that is no first notice (the labelling guide's line): one the customer
#: already told the company of ("I notified you of my husband's passing in March"),
#: a reply to the bereavement team's letter, documents sent as asked, and a death
#: years past told in passing.
DEATH_FOLLOW_UP_PATTERNS: tuple[str, ...] = (
    r"\b(?:notified|informed|told)\s+(?:you|your\s+\w+)\b[^.?!]{0,40}\b(?:passing|death|died|passed)",
    # "thank you for your letter of the 3rd confirming that my mother's accounts are on hold"
    r"\b(?:your|the)\s+(?:letter|email|message|call)\b[^.?!]{0,30}\bconfirming\b",
    # "I spoke to your bereavement team last week about my dad's account"
    # "following up on my call with your bereavement team"
    r"\b(?:spoke|spoken|talked|been\s+in\s+touch|call|conversation|case)\s+(?:to|with)\s+(?:your|the)\b[^.?!]{0,10}"
    r"\bbereavement\s+(?:team|department|service|line|folks|people|staff|unit|desk)",
    # the account already moved over: "transferred to my name last year after my
    # grandfather passed away", "the account has been in my name since"
    r"\b(?:was|were|got)\s+(?:transferred|moved|changed|put)\s+(?:in)?to\s+my\s+name\b",
    r"\b(?:has|have|'s)\s+been\s+in\s+my\s+name\b",
    # "your bereavement team moved my late father's account into my name last month"
    r"\b(?:moved|transferred|changed|put)\b[^.?!]{0,40}\b(?:in)?to\s+my\s+name\b",
    # "thank you for your help on the phone when I let you know about my mother"
    rf"\bwhen\s+(?:i|we)\s+(?:let\s+you\s+know|told\s+you|informed\s+you|notified\s+you|rang|called|phoned)\s+"
    rf"(?:about|of)\s+(?:my|our)\s+(?:late\s+)?{_RELATIVE}\b",
    # a question for when it happens: "do you waive fees when there's a death in the family?"
    r"\b(?:when|if|in\s+case)\s+(?:there'?s|there\s+is|someone\s+has)\s+(?:a\s+)?death\s+in\s+the\s+family",
    # "she asked me to send a certified copy of the grant of probate", "thank you for
    # your help last month closing my late father's account"
    r"\b(?:asked|told)\s+me\s+to\s+send\b[^.?!]{0,40}\b(?:probate|death\s+certificate|will|letters\s+of)\b",
    r"\bthank\s+you\s+for\s+(?:your|all\s+your)\s+(?:help|kindness|support)\b[^.?!]{0,40}\b(?:closing|transferring"
    r"|moving|sorting|settling)\b",
    # "as requested, I attach a certified copy of the grant of probate"
    r"\bas\s+(?:you\s+)?(?:requested|asked)\b[^.?!]{0,60}\b(?:probate|death\s+certificate|will|letters\s+of)\b",
    # a past death in passing: "since my husband died a few years back the account's been
    # in my name" (the guide: it asks nothing of the death)
    rf"\bsince\s+(?:my|our)\s+{_RELATIVE}\s+{_DIED}\s+(?:a\s+few|a\s+couple\s+of|two|three|four|five|six"
    r"|several|many|some|\d+)\s+years?\s+(?:ago|back)\b",
)

#: Safety reports that are an emergency however calmly told: a gas smell, a carbon
#: monoxide alarm (the gas emergency line takes every one), and a customer stranded
#: at night or by a motorway (roadside assistance sends someone out at once).
EMERGENCY_PATTERNS: tuple[str, ...] = (_GAS_EMERGENCY, _STRANDED)

#: Topics a person takes over however calmly they are told (the labelling guide's
#: reading): a death on the account goes to the bereavement team, a flat report of
#: fraud to the fraud team. The others count only in a turn that reads troubled
#: or sensitive (the policy's ``sensitive_signal``).
ALWAYS_SENSITIVE_TOPICS = frozenset({"bereavement", "fraud"})

#: Signs of a vulnerable customer: age, living alone, disability and care, medical
#: equipment, hardship. Routed to specialist care.
VULNERABILITY_PATTERNS: tuple[str, ...] = (
    r"\b(?:lives?|living)\s+(?:on\s+(?:his|her|their|my)\s+own|alone|by\s+(?:him|her|my)sel(?:f|ves))\b",
    r"\b(?:elderly|housebound|bedbound|bed-bound|frail|vulnerable)\b",
    r"\b(?:[89]\d|1[01]\d)[-\s]?(?:years?[-\s]old|year-old|yo)\b",
    # An age, not an amount: "she's 87", never "the plan is 100 Mbps" or "is 85 pounds".
    r"\b(?:aged|age|is|she's|he's|turns?|turned)\s+(?:[89]\d|1[01]\d)\b"
    r"(?![.,]\d|\s*(?:%|percent|mbps|mb|gb|kb|p\b|pence|pounds?|quid|dollars?|euros?|"
    r"minutes?|mins?|hours?|hrs?|days?|weeks?|months?|degrees?|miles?|km|kg|times|calls?))",
    r"\bin\s+(?:his|her|their)\s+(?:eighties|nineties|80s|90s)\b",
    r"\b(?:aged|she's|he's|she\s+is|he\s+is|turns?|turned)\s+(?:eighty|ninety)\b",
    r"\b(?:disabled|disability|disabilities|wheelchair|dementia|alzheimer'?s|autis\w*|blind|deaf)\b",
    r"\b(?:carer|caregiver|care\s+home|home\s+care|care\s+worker)\b",
    r"\b(?:care|pendant|personal|panic|lifeline|telecare)\s+alarm\b",
    r"\balarm\s+pendants?\b",
    r"\b(?:oxygen|dialysis|ventilator|nebuli[sz]er|stairlift|insulin|feeding\s+pump|life[-\s]support)\b",
    r"\bmedical\s+(?:equipment|device|machine)\b",
    # "my mother relies on it to ring me every evening", "I rely on that card"
    r"\b(?:relies|rely|relying)\s+(?:on|upon)\s+(?:it|this|that|the|her|his|their|our|my)\b",
    r"\b(?:can(?:no|')?t|cannot|won'?t\s+be\s+able\s+to)\s+(?:really\s+|actually\s+|possibly\s+|even\s+)?afford\b",
    # Money that was all there was: "that was my rent money", "thirty quid to last me till
    # Friday", "all I've got till payday", "£23 in my account until I get paid"
    r"\b(?:rent|shopping|food|gas|electric|bills?|nappy|school\s+fees?|grocery|petrol)\s+money\b",
    r"\bto\s+last\s+(?:me|us)\b",
    # "that was the last of my money until the children's allowance comes in"
    r"\b(?:the\s+)?last\s+of\s+(?:my|our)\s+money\b",
    r"\b(?:all|only|everything)\s+(?:i|we)\s+(?:have|'ve\s+got|got)\s+(?:left\s+)?(?:until|till|to\s+last)\b",
    r"\b(?:until|till)\s+(?:(?:i|we)\s+gets?\s+paid|payday)\b",
    # A baby in the house: "we've got a newborn", "a 3 month old", "the baby formula"
    # (not adding a newborn to a policy: "adding my newborn daughter to my medical aid")
    r"\b(?<!adding\smy\s)(?<!add\smy\s)(?<!added\smy\s)(?:new[-\s]?born|baby\s+(?:formula|milk)|(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven)"
    r"[-\s](?:week|month)[-\s]old(?=\s+(?:baby|son|daughter|boy|girl|twins|here|in\s+the\s+house|at\s+home)\b"
    r"|\s*(?:[.,!?]|$)|\s+and\b)|baby'?s\s+(?:room|cot|nursery|bottles?))\b",
    # Mental health and widowhood the customer tells of (not "the anxiety of waiting")
    r"\b(?:depression|(?:my|with|have|due\s+to|from|severe|bad)\s+anxiety|mental\s+health|panic\s+attacks?"
    r"|bipolar|ptsd|widow(?:ed|er)?)\b",
    r"\bfood\s*banks?\b",
    r"\b(?:can(?:no|')?t|cannot)\s+(?:buy|pay\s+for)\s+(?:food|groceries|my\s+rent|the\s+rent|heating)\b",
    r"\b(?:on\s+benefits|universal\s+credit|state\s+pension)\b",
    # Living on a pension, not a question about one ("where my pension is invested").
    r"\b(?:my\s+pension\s+is\s+(?:all|my\s+only|the\s+only)|only\s+(?:have|get|got)\s+my\s+pension"
    r"|liv(?:e|ing)\s+on\s+(?:a|my)\s+pension)\b",
    # "i'm not working since april, i'm only getting the grant", "no money for the children's taxi"
    # (the customer out of work, not "my broadband is not working since Monday")
    r"\b(?:i'?m|i\s+am|i'?ve\s+been|i\s+have\s+been|we'?re|we\s+are|he'?s|she'?s)\s+(?:not\s+(?:been\s+)?working"
    r"|out\s+of\s+work|unemployed)\s+(?:since|for|at\s+the\s+moment|right\s+now)\b",
    r"\bonly\s+(?:getting|get|got|on|have)\s+(?:the\s+|my\s+)?(?:grant|benefits?|allowance|dole)\b",
    r"\bno\s+money\s+(?:for|left)\b",
    r"\b(?:lost\s+my\s+job|been\s+made\s+redundant|got\s+laid\s+off|between\s+jobs|signed\s+off\s+(?:work|sick)"
    r"|on\s+sick\s+pay|sick\s+pay\s+(?:doesn'?t|does\s+not|won'?t))\b",
)

# The kinds of company a customer leaves for another.
_PROVIDER = r"(?:provider|company|bank|supplier|network|carrier|insurer|processor|platform|airline|lender|retailer)"

#: Threats to leave because of the service (not a calm, planned cancellation:
#: the churn rule also wants the turn to read negative, see ``rules``).
CHURN_PATTERNS: tuple[str, ...] = (
    r"\b(?:i'?m|i\s+am|i'?ll|i\s+will|going\s+to|gonna|about\s+to|ready\s+to)\s+(?:just\s+)?"
    r"(?:be\s+)?(?:cancel\w*|switch\w*|leav\w*\s+(?:you|this\s+company|your\s+company)"
    r"|clos\w*\s+my\s+account|tak\w*\s+my\s+business|go(?:ing)?\s+elsewhere)",
    rf"\bswitch(?:ing)?\s+(?:to\s+)?(?:another|a\s+different|a\s+new|other)\s+{_PROVIDER}",
    # "if it is not working by tomorrow i will shift to the other software"
    r"\b(?:i'?ll|i\s+will|we'?ll|we\s+will|i'?m|i\s+am)\s+(?:just\s+)?(?:shift\w*|switch\w*|mov\w*|go(?:ing)?)\s+to\s+"
    rf"(?:the\s+other|another|a\s+different|a\s+cheaper)\s+(?:\w+\s+)?(?:{_PROVIDER}|software|app|service)\b",
    r"\btak(?:e|ing)\s+my\s+(?:business|money|custom)\s+elsewhere\b",
    r"\b(?:find|finding|get|look(?:ing)?\s+(?:for|at|around(?:\s+for|\s+at)?))\s+"
    rf"(?:another|a\s+new|a\s+different|a\s+better|other)\s+{_PROVIDER}s?\b",
    # "if it isn't fixed by Friday I'm cancelling", not "if the driver knocked instead of leaving a card"
    r"\bif\b[^.?!]{0,80}\b(?:i'?ll|i\s+will|i'?m|i\s+am|we'?ll|we\s+will|we'?re|i\s+shall)\s+(?:just\s+|be\s+)?"
    r"(?:cancel\w*|leav\w*|switch\w*|go(?:ing)?\s+elsewhere|mov\w*\s+(?:my|our)\s+(?:account|business|money|savings))\b",
    r"\bmov(?:e|ing)\s+(?:my|our)\s+(?:account|business|custom|money|savings|mortgage)\s+to\b",
    r"\bor\s+(?:i'?ll|i\s+will|we'?ll)\s+(?:just\s+)?(?:cancel|leave|switch|go\s+elsewhere)\b",
    r"\bor\s+(?:i'?m|i\s+am|we'?re)\s+(?:gone|off|out\s+of\s+here|leaving|done)\b",
    # "fix it today or I cancel", "or we walk"
    r"\bor\s+(?:i|we)\s+(?:cancel|leave|switch|walk)\b",
    # "never flying with you again", "not using this app again"
    r"\b(?:never|not|won'?t\s+be)\s+(?:\w+ing|use|order|fly|shop|book|buy)\s+(?:\w+\s+){0,2}"
    r"(?:you|your\s+\w+|this\s+\w+)\s+again\b",
    r"\b(?:one\s+of\s+your|a|to\s+a)\s+(?:rival|competitor)s?\b",
    r"\b(?:evaluating|considering|exploring|looking\s+at)\s+(?:other\s+)?(?:alternatives|other\s+options)\b",
    r"\b(?:out\s+to\s+tender|comparison\s+sites?|shop(?:ping)?\s+around)\b",
    r"\bport(?:ing)?\s+(?:out|away|my\s+number)\b",
    r"\b(?:shall|should)\s+i\s+(?:just\s+)?(?:go\s+elsewhere|leave|switch|cancel|move\s+(?:my\s+\w+|elsewhere))\b",
    rf"\b(?:found|got)\s+(?:a|another)\s+(?:\w+\s+){{0,2}}{_PROVIDER}\s+that\b",
    r"\b(?:done|finished)\s+with\s+(?:you|this\s+company|your\s+company|your\s+service)\b",
    # "getting quotes from other suppliers", "both going elsewhere at renewal"
    r"\bquotes?\s+from\s+(?:other|another|different)\b",
    r"\b(?:go(?:ing)?|goes|gone)\s+elsewhere\b",
    # "easier to just move everything somewhere else", "why I'm still with you"
    r"\b(?:go(?:ing)?|mov(?:e|ing)|tak(?:e|ing))\s+(?:\w+\s+){0,2}somewhere\s+else\b",
    # "I'll just do my shopping somewhere that works"
    r"\b(?:i'?ll|i\s+will|we'?ll|we\s+will)\s+(?:just\s+)?(?:\w+\s+){1,3}somewhere\s+(?:else\b|that\s+"
    r"(?:works|actually|can|will|does|answers|cares|listens|delivers))",
    r"\bwhy\s+(?:am\s+)?i(?:'m|\s+am)?\s+still\s+(?:with\s+you|paying\s+you|a\s+customer|your\s+customer)\b",
    # "time to see what the other streaming services are charging"
    r"\bwhat\s+(?:the\s+)?other\s+(?:\w+\s+)?(?:services|providers|companies|networks|banks|suppliers"
    r"|airlines|insurers)\s+(?:are\s+)?(?:charg|offer)\w*",
    r"\b(?:mov(?:e|ing)|tak(?:e|ing))\s+(?:my|our)\s+(?:\w+\s+){0,2}elsewhere\b",
    # "moving my salary to another bank"
    rf"\bmov(?:e|ing)\s+(?:my\s+)?(?:\w+\s+){{0,2}}to\s+(?:another|a\s+different|a\s+new|other)\s+{_PROVIDER}\b",
    # "I will be leaving at the end of this month unless the fault is fixed"
    r"\b(?:i|we)(?:'ll|\s+will|'m|\s+am|'re|\s+are)?\s+(?:be\s+)?(?:leav\w*|cancel\w*|switch\w*)\b"
    r"[^.?!]{0,60}\bunless\b",
    r"\bcancel\w*\s+(?:everything|all\s+my|my\s+(?:contract|account|subscription|policy|membership))\b[^.?!]{0,40}\b(?:because|after|since|sick|fed\s+up|enough)\b",
    # "Unless this increase is withdrawn, I will be moving my broadband ... to another provider"
    r"\bunless\b[^.?!]{0,100}\b(?:i|we)(?:'ll|\s+will)\s+(?:be\s+)?(?:leav|cancel|switch|mov|clos)\w*",
    rf"\bmov(?:e|ing)\s+(?:my\s+|our\s+|the\s+)?(?:[\w,]+\s+){{3,6}}to\s+(?:another|a\s+different|a\s+new|other)\s+"
    rf"(?:{_PROVIDER}|courier|dentist|practice|firm|agency|one)s?\b",
    # "Fix it or I'm closing every account I have with you"
    r"\bor\s+(?:i'?m|i\s+am|we'?re)\s+(?:clos\w*|cancel\w*|switch\w*|mov\w*\s+(?:my|our))\b",
    # "we will be celebrating elsewhere in future", "I'll be shopping elsewhere"
    r"\b(?:i|we)(?:'ll|\s+will|'re|\s+are)\s+(?:be\s+)?(?:\w+ing|shop|bank|eat|dine|fly|stay|book|buy|order)\s+elsewhere\b",
    # "got a quote elsewhere for £390 less ... or shall I just go"; "I won't be renewing"
    r"\b(?:quote|price|deal|offer)s?\s+elsewhere\b",
    r"\b(?:shall|should)\s+i\s+(?:just\s+)?go\b\s*(?:[?.!]|$)",
    r"\b(?:will\s+not|won'?t|not\s+going\s+to)\s+be\s+renewing\b",
    # "thinking of just moving all my spending there and closing this one"
    r"\b(?:thinking\s+(?:of|about)|considering|planning\s+(?:on|to))\s+(?:just\s+)?(?:(?:mov|switch|tak)\w*\s+"
    r"(?:all\s+)?(?:my|our)\s+(?:\w+\s+)?(?:spending|business|account|money|custom|savings|mortgage|card)"
    r"|(?:clos|cancel|leav)\w*\s+(?:this|my|our|the)\s+(?:one|card|account|membership|subscription|contract|plan"
    r"|policy)|switching|leaving\s+you)\b",
    # "I'm about ready to ... delete this app off my phone"
    r"\b(?:delete|deleting|uninstall\w*)\s+(?:this|the|your)\s+app\b",
    # "I'm letting it lapse and signing up over there", "I'll be signing up there instead"
    r"\blet(?:ting)?\s+(?:it|my\s+\w+|the\s+\w+)\s+lapse\b",
    r"\bsign(?:ing|ed)?\s+up\s+(?:over\s+)?(?:there|with\s+them|elsewhere)\b",
    # "Starting to think I should just move over" (to the sister's insurer)
    r"\b(?:should|might|may|could)\s+(?:just\s+)?(?:move|switch|go)\s+(?:over|across)\b"
    r"(?!\s+to\s+(?:the\s+|your\s+)?(?:new|online|app|paperless|direct|monthly|annual|e-?billing))",
)

#: Complaints to someone above the company: a regulator, an ombudsman, the press.
REGULATOR_PATTERNS: tuple[str, ...] = (
    r"\bombudsman\b",
    r"\bregulators?\b",
    r"\b(?:ofcom|ofgem|ofwat|fca|fos|cfpb|fcc|ftc|acma|accc|asic|cma)\b",
    r"\bfinancial\s+conduct\s+authority\b",
    r"\btrading\s+standards\b",
    r"\bconsumer\s+(?:protection|rights\s+(?:body|organi[sz]ation)|watchdog|council|forum|court|section)\b",
    r"\b(?:deposit\s+(?:protection\s+)?scheme|caa|ico|advertising\s+standards|ombudsmen)\b",
    r"\bwatchdog\b",
    r"\bbetter\s+business\s+bureau\b",
    # outside the UK: "a complaint with the DOT", "the attorney general", "the CRTC"
    r"\b(?:with|to)\s+the\s+(?:dot|bbb)\b",
    r"\b(?:department\s+of\s+transportation|attorney\s+general|public\s+(?:utilit(?:y|ies)|service)\s+commission"
    r"|canadian\s+transportation\s+agency|crtc|ccts|trai|sebi|irdai|afca|ncdrc)\b",
    r"\bcitizens\s+advice\b",
    r"\b(?:go(?:ing)?\s+to|contact\w*|tell\w*|writ\w*\s+to)\s+(?:the|our|my)\s+(?:local\s+|national\s+)?"
    r"(?:press|papers?|media|newspapers?)\b",
    r"\b(?:report|reporting)\s+(?:you|this|your\s+company)\s+to\b",
    # "the Ombud for Financial Services Providers", "the commerce commission and the
    # disputes tribunal", "the money pages of a paper"
    r"\bombuds?\b",
    r"\b(?:commerce\s+commission|disputes?\s+tribunal|small\s+claims\s+(?:court|tribunal))\b",
    r"\b(?:money\s+pages|consumer\s+(?:column|programme|program|show|journalist|reporter|champion))\b",
    # "a complaint with the consumers association", "sending the screenshots to the papers"
    r"\bconsumers?'?\s+(?:association|council|federation|commission|affairs|organi[sz]ation|group)\b",
    r"\b(?:send|sending|sent|take|taking|go|going|leak\w*|forward\w*)\s+(?:[\w']+\s+){0,3}to\s+the\s+"
    r"(?:press|papers|newspapers|media)\b",
)

#: A regulator's case already decided, followed up: "following up on the energy
#: ombudsman's decision last month", "my case with the ombudsman got closed and they
#: said you'd pay". Told calmly, it is admin the bot can answer (see ``decide``).
REGULATOR_DECIDED_PATTERNS: tuple[str, ...] = (
    r"\b(?:ombudsman|regulator)(?:'s)?\s+(?:final\s+)?(?:decision|ruling|award|adjudication|determination)\b",
    r"\b(?:ombudsman|regulator)\s+(?:has\s+|had\s+)?(?:decided|ruled|upheld|awarded|closed)\b",
    r"\b(?:case|complaint)\s+with\s+the\s+(?:[\w-]+\s+){0,2}ombudsman\b[^.?!]{0,60}\b(?:closed|decided|resolved"
    r"|settled|upheld)\b",
)

#: The customer saying the service is not why they leave: a planned move, not a threat.
NO_GRIEVANCE_PATTERNS: tuple[str, ...] = (
    r"\b(?:nothing\s+wrong\s+with|no\s+(?:complaints?|problems?|issues?)\s+with|no\s+reflection\s+on)\s+"
    r"(?:your|the|you)\b",
    r"\byou'?ve\s+been\s+(?:fine|great|good|brilliant|excellent|fantastic|very\s+good)\b",
)

#: A formal complaint to the company: the first step of the regulators' complaint
#: schemes, so it takes the same reason, but only told upset (see ``decide``): "how
#: do I make a formal complaint?" asked calmly is a question the bot answers.
FORMAL_COMPLAINT_PATTERNS: tuple[str, ...] = (r"\bformal\s+complaint\b",)

#: The customer saying how angry they are (counted in a negative turn: the encoder
#: reads "I am absolutely livid!!!" lower than plain insults).
FURY_PATTERNS: tuple[str, ...] = (r"\b(?:livid|furious|fuming|outraged|seething|incandescent)\b",)

#: The customer saying the conversation goes round in circles.
LOOP_COMPLAINT_PATTERNS: tuple[str, ...] = (
    r"\b(?:going|go|goes|gone|went|run(?:ning)?)\s+(?:a)?round\s+in\s+circles\b",
    r"\b(?:same|identical)\s+(?:answer|reply|response|message|thing|link|script|sentence|words|options?)\b"
    r"[^.?!]{0,30}\b(?:again|over|twice|every\s+time)\b",
    # "and we're back to the app I don't have", "three different answers in five minutes"
    r"\b(?:we'?re|we\s+are)\s+back\s+to\s+(?:the|square\s+one|where\s+we\s+started)\b",
    r"\b(?:two|three|four|five|\d+)\s+different\s+(?:answers|replies|things)\b",
    r"\b(?:same|identical)\s+(?:answer|reply|response|message|link|script)\s+as\s+before\b",
    r"\byou(?:'ve|\s+have)?\s+(?:keep|kept|just\s+keep)\s+(?:saying|repeating|sending|telling|giving"
    r"|describing|suggesting|pointing|quoting|referring|linking|answering|replying|offering|coming\s+back\s+with)\b",
    r"\byou\s+already\s+(?:said|told\s+me|sent|suggested)\s+(?:that|this)\b",
    r"\b(?:stop|quit)\s+repeating\b",
    r"\b(?:that'?s|that\s+is)\s+(?:not\s+what\s+i\s+asked|what\s+you\s+said\s+(?:before|last\s+time))\b",
    r"\balready\s+(?:tried|done|did)\s+(?:that|this|it|all\s+that)\b",
    # "Just done it" is a loop only when it did not work ("just did that, still
    # nothing"), not "I've just done it online and it was fine".
    r"\bjust\s+(?:tried|done|did)\s+(?:that|this|it|all\s+that)\b[^.?!]{0,40}"
    r"\b(?:still|didn'?t|doesn'?t|won'?t|not\s+work\w*|no\s+(?:luck|change|difference)|nothing|same)\b",
    r"\bthis\s+is\s+(?:a|an)\s+(?:endless\s+)?loop\b",
    r"\b(?:second|third|fourth|fifth|\d+(?:st|nd|rd|th))\s+time\s+(?:you'?ve|you\s+have)\s+(?:said|sent|told|given)\b",
    r"\byou'?ve\s+(?:already\s+)?(?:said|sent|told\s+me)\s+that\s+(?:already|before|twice)\b",
    r"\bnot\s+listening\b",
    # "that's word for word what you said", "the exact same thing", "stuck in a loop"
    r"\bword\s+for\s+word\b",
    r"\b(?:the\s+)?exact(?:ly\s+the)?\s+same\s+(?:thing|answer|reply|message|words)\b",
    r"\b(?:that|this)\s+exact\s+(?:answer|reply|message)\b",
    r"\b(?:we'?re|we\s+are|i'?m|i\s+am|we'?ve\s+been|i'?ve\s+been)\s+(?:stuck|going|caught)\s+in\s+a\s+loop\b",
    r"\b(?:sends?|sending|sent|takes?|taking|took)\s+me\s+(?:right\s+|straight\s+)?back\s+to\s+the\s+"
    r"(?:start|beginning|main\s+menu)\b",
    r"\b(?:you|it|the\s+bot|bot|the\s+(?:assistant|system|chat))\s+(?:just\s+|keeps?\s+|kept\s+)+repeat(?:s|ing)?\b",
    r"\bi\s+(?:just|already)\s+(?:said|told\s+you|explained)\b",
    r"\b(?:you|u)\s+(?:say|said)\s+(?:again\s+)?(?:the\s+)?same\s+thing\b",
    r"\bread\s+me\s+the\s+\w+\s+again\b",
    # "i'm on a merry-go-round here", "round and round"
    r"\bmerry[-\s]go[-\s]round\b",
    r"\b(?:we|you|i)(?:'re|\s+are|'m|\s+am)?\s+(?:go|going|goes|went|run|running)\s+in\s+circles\b",
    r"\b(?:going|go|goes|went|sent|sending)\s+round\s+and\s+round\b",
)

#: Insults that are abusive wherever they appear.
ABUSE_WORDS: tuple[str, ...] = (
    r"idiot(?:s|ic)?",
    r"moron(?:s|ic)?",
    r"imbecile\w*",
    r"fuck\w*",
    r"shit\w*",
    r"bastard\w*",
    r"assholes?",
    r"bitch\w*",
    r"shut\s+up",
)
#: Words that insult only when aimed at the agent or bot ("you're useless"), not
#: when a customer says "I feel stupid" or "my old phone was useless".
TARGETED_ABUSE_WORDS: tuple[str, ...] = (
    "useless",
    "pathetic",
    "stupid",
    "dumb",
    "incompetent",
    "worthless",
)
_TARGETED = "|".join(TARGETED_ABUSE_WORDS)
_ABUSE_PATTERNS: tuple[str, ...] = (
    rf"\b(?P<w>{'|'.join(ABUSE_WORDS)})\b",
    rf"\b(?:you|you're|youre|you\s+are|u\s+r|ur)\s+(?:so\s+|such\s+an?\s+|an?\s+|totally\s+|completely\s+)?"
    rf"(?P<w>{_TARGETED})\b",
    rf"\b(?P<w>{_TARGETED})\s+(?:bot|agent|machine|robot|assistant|service\s+rep)\b",
    # "you stupid woman", "you stupid, useless woman", "some silly little girl"
    r"\b(?:you|some)\s+(?P<w>(?:(?:silly|stupid|useless|thick|dumb)\s*,?\s+){1,2}(?:little\s+)?"
    r"(?:woman|man|girl|boy|cow))\b",
    # "get me someone with a brain"; "I know where your office is" (a threat)
    r"\b(?P<w>(?:someone|somebody)\s+(?:with|who'?s\s+got|who\s+has)\s+a\s+brain)\b",
    r"\b(?P<w>i\s+know\s+where\s+(?:you\s+live|your\s+(?:head\s+)?office\s+is))\b",
    # threats: "if i have to come down there you'll see what happens", "i will sort out
    # whoever is in that shop"
    r"\b(?P<w>you'?ll\s+see\s+what\s+happens)\b",
    r"\b(?P<w>(?:i'?ll|i\s+will)\s+sort\s+(?:out\s+)?(?:you|whoever|them|him|her)(?:\s+out)?)\b",
)

# The patterns are written in lower case and run case-sensitively over the
# lowercased text: Python's ``re`` is several times slower with IGNORECASE, and
# these run on every customer message. Each detector first tries one screen, a
# pattern every one of its matches also matches, so most messages cost one search.


def _union(patterns: Iterable[str]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns))


_HUMAN_REQUEST = tuple(re.compile(p) for p in HUMAN_REQUEST_PATTERNS)
# Every request pattern holds one of these words: most messages skip the patterns.
_HUMAN_SCREEN = re.compile(
    rf"{_PERSON}|engineer|technician|team|nobody|no\s*one|anyone|anybody|complaint|senior|authority"
    r"|one\s+of\s+(?:the|your)\s|whoever|put\s+through"
)
_TOPICS = {topic: _union(patterns) for topic, patterns in SENSITIVE_TOPIC_PATTERNS.items()}
_TOPIC_SCREEN = _union(p for patterns in SENSITIVE_TOPIC_PATTERNS.values() for p in patterns)
_EMERGENCY = _union(EMERGENCY_PATTERNS)
_DEATH_FOLLOW_UP = _union(DEATH_FOLLOW_UP_PATTERNS)
_PERSON_DEATH = _union(p for p in SENSITIVE_TOPIC_PATTERNS["bereavement"] if p != _PRONOUN_DIED)
_FRAUD_ENQUIRY = _union(FRAUD_ENQUIRY_PATTERNS)
_FRAUD_REPORT = _union(FRAUD_REPORT_PATTERNS)
_FRAUD_RESOLVED = _union(FRAUD_RESOLVED_PATTERNS)
_FRAUD_CASE = _union(p for p in SENSITIVE_TOPIC_PATTERNS["fraud"] if p not in FRAUD_WORD_PATTERNS)
_ABUSE = tuple(re.compile(p) for p in _ABUSE_PATTERNS)
# Spans index the original text; for the rare text whose lowercase has another
# length (e.g. "İ" becomes two characters) the same patterns run with IGNORECASE.
_ABUSE_ANY_CASE = tuple(re.compile(p, re.IGNORECASE) for p in _ABUSE_PATTERNS)
_ABUSE_SCREEN = _union(p.replace("(?P<w>", "(?:") for p in _ABUSE_PATTERNS)
_WORD = re.compile(r"[a-z0-9']+")


@dataclass(frozen=True)
class Match:
    """The phrase a detector matched and where."""

    phrase: str
    start: int
    end: int


def explicit_human_request(text: str) -> Match | None:
    """The first phrase asking for a person, or None.

    The phrase and its position are those in the lowercased text with runs of
    whitespace collapsed to one space.
    """
    normalised = " ".join(text.lower().split())
    if not _HUMAN_SCREEN.search(normalised):
        return None
    for pattern in _HUMAN_REQUEST:
        found = pattern.search(normalised)
        if found:
            return Match(found.group(0), found.start(), found.end())
    return None


_VULNERABILITY = _union(VULNERABILITY_PATTERNS)
_CHURN = _union(CHURN_PATTERNS)
_REGULATOR = _union(REGULATOR_PATTERNS)
_FORMAL_COMPLAINT = _union(FORMAL_COMPLAINT_PATTERNS)
_REGULATOR_DECIDED = _union(REGULATOR_DECIDED_PATTERNS)
_NO_GRIEVANCE = _union(NO_GRIEVANCE_PATTERNS)
_FURY = _union(FURY_PATTERNS)
_LOOP_COMPLAINT = _union(LOOP_COMPLAINT_PATTERNS)


def _phrase(pattern: re.Pattern[str], text: str) -> str | None:
    """The matched phrase of the lowercased text (whitespace collapsed), or None.

    The patterns match runs of whitespace themselves, so only the phrase found is
    collapsed, not every message: these run on each customer message.
    """
    found = pattern.search(text.lower())
    return " ".join(found.group(0).split()) if found else None


def vulnerability(text: str) -> str | None:
    """The phrase showing a vulnerable customer (age, living alone, care, hardship)."""
    return _phrase(_VULNERABILITY, text)


def churn_threat(text: str) -> str | None:
    """The phrase threatening to leave, cancel or switch provider."""
    return _phrase(_CHURN, text)


def regulator_complaint(text: str) -> str | None:
    """The phrase naming a regulator, an ombudsman or the press."""
    return _phrase(_REGULATOR, text)


def regulator_decided(text: str) -> bool:
    """The message follows up a regulator's case already decided
    (:data:`REGULATOR_DECIDED_PATTERNS`)."""
    return _REGULATOR_DECIDED.search(text.lower()) is not None


def no_grievance(text: str) -> bool:
    """The customer says the service is not why they leave (:data:`NO_GRIEVANCE_PATTERNS`)."""
    return _NO_GRIEVANCE.search(text.lower()) is not None


def fury(text: str) -> str | None:
    """The word in which the customer says how angry they are ("livid", "furious")."""
    return _phrase(_FURY, text)


def formal_complaint(text: str) -> str | None:
    """The phrase raising a formal complaint with the company."""
    return _phrase(_FORMAL_COMPLAINT, text)


def loop_complaint(text: str) -> str | None:
    """The phrase saying the conversation goes round in circles or repeats itself."""
    return _phrase(_LOOP_COMPLAINT, text)


# A pet's death, which the labelling guide does not count as a bereavement: "our
# cat passed away last month", "the cactus that arrived is very much deceased".
# Pets, and the breeds people call them by ("our old lab").
_PET = (
    r"(?:cat|kitten|dog|puppy|pup|pet|hamster|gerbil|rabbit|bunny|guinea\s+pig|budgie|parrot|bird|goldfish"
    r"|fish|tortoise|snake|lizard|horse|pony|plant|cactus|lab|labrador|spaniel|terrier|collie|retriever"
    r"|moggy)"
)
_PET_DEATH = re.compile(
    rf"\b(?:my|our|the|his|her|their)\s+(?:old\s+|little\s+|beloved\s+)?{_PET}s?\b[^.?!]{{0,60}}?"
    r"\b(?:passed\s+away|deceased|died|put\s+down|put\s+to\s+sleep)\b"
    # ... or in the next sentence, told of "he" or "she": "for our dog. He died last month",
    # "pet in cabin for our dog on the flight on the 18th, ref TK4452. She died last week"
    rf"|\b(?:my|our|the)\s+(?:old\s+|little\s+)?{_PET}\b[^.?!]{{0,80}}[.?!]\s+(?:he|she|it)\s+"
    r"(?:has\s+|had\s+|just\s+|sadly\s+)?(?:died|passed\s+away|was\s+put\s+(?:down|to\s+sleep))\b"
)


_CAPITAL_WORD = re.compile(r"\b[A-Z]{2,}\b")
_UPPER = re.compile(r"[A-Z]")
_LOWER = re.compile(r"[a-z]")


# Words of four capitals or more, outside quotes (a merchant's name on a statement is
# quoted: "a charge to 'ZX DIGITAL SVCS'").
_EMPHATIC_WORD = re.compile(r"\b[A-Z]{4,}\b")
_QUOTED = re.compile(
    r"'[^'\n]{1,60}'|\"[^\"\n]{1,60}\"|\u2018[^\u2019\n]{1,60}\u2019|\u201c[^\u201d\n]{1,60}\u201d"
)


def shouting(text: str) -> bool:
    """The message is written in capitals (three words of capitals, not an acronym or
    two, at least 15 capital letters and 70% of its letters), or shouts words in it:
    two different words of four capitals or more outside quotes ("moved AGAIN ...
    ABSOLUTELY UNACCEPTABLE"). The encoder reads lower case, so this is the one place
    capitals are seen. (Regex counts: this runs on every customer message.)"""
    capital_words = len(_CAPITAL_WORD.findall(text))
    if capital_words < 2:
        return False
    upper = len(_UPPER.findall(text))
    if upper >= 15 and upper >= 0.7 * (upper + len(_LOWER.findall(text))):
        return capital_words >= 3
    return len(set(_EMPHATIC_WORD.findall(_QUOTED.sub(" ", text)))) >= 2


def death_follow_up(text: str) -> bool:
    """The message tells of a death that is no first notice
    (:data:`DEATH_FOLLOW_UP_PATTERNS`)."""
    return _DEATH_FOLLOW_UP.search(text.lower()) is not None


def pet_death(text: str) -> bool:
    """The message tells of a pet's death, which the labelling guide does not count
    as a sensitive situation (the model's reading of its meaning may)."""
    return _PET_DEATH.search(text.lower()) is not None


def always_sensitive(text: str, topics: set[str]) -> set[str]:
    """Of ``topics`` (the text's), those a person takes however calmly they are told:
    :data:`ALWAYS_SENSITIVE_TOPICS`, and safety when it is an emergency (a gas smell).
    A death that is no first notice (:data:`DEATH_FOLLOW_UP_PATTERNS`: already
    notified, a past death told in passing; the labelling guide's reading) counts
    only told troubled, like the other topics."""
    kept = topics & ALWAYS_SENSITIVE_TOPICS
    lowered = text.lower()
    if "bereavement" in kept and _DEATH_FOLLOW_UP.search(lowered):
        kept.discard("bereavement")
    if "safety" in topics and _EMERGENCY.search(lowered):
        kept.add("safety")
    return kept


def sensitive_topics(text: str) -> set[str]:
    """The sensitive topics (keys of :data:`SENSITIVE_TOPIC_PATTERNS`) the text touches."""
    lowered = text.lower()
    if not _TOPIC_SCREEN.search(lowered):
        return set()
    topics = {topic for topic, pattern in _TOPICS.items() if pattern.search(lowered)}
    # With a pet's death told, "she died" is the pet's ("our cat died ... cancel her
    # policy from the date she died"): it stays a bereavement only if, the pet's
    # death aside, a person's is named.
    if (
        "bereavement" in topics
        and _PET_DEATH.search(lowered)
        and not _PERSON_DEATH.search(_PET_DEATH.sub(" ", lowered))
    ):
        topics.discard("bereavement")
    if "fraud" in topics and (_fraud_enquiry_only(lowered) or _fraud_resolved(lowered)):
        topics.discard("fraud")
    return topics


def fraud_enquiry(text: str) -> bool:
    """The message asks about fraud (how to guard against it) but reports none."""
    return _fraud_enquiry_only(text.lower())


def _fraud_resolved(lowered: str) -> bool:
    """The customer placed the payment as their own (:data:`FRAUD_RESOLVED_PATTERNS`)
    and tells of no loss or denial beside it."""
    return _FRAUD_RESOLVED.search(lowered) is not None and _FRAUD_REPORT.search(lowered) is None


def _fraud_enquiry_only(lowered: str) -> bool:
    """The message asks about fraud but reports none: an enquiry's wording, no loss or
    denial, and no fraud phrase beyond the words themselves (an unrecognised payment
    stays)."""
    return (
        _FRAUD_ENQUIRY.search(lowered) is not None
        and _FRAUD_REPORT.search(lowered) is None
        and _FRAUD_CASE.search(lowered) is None
    )


def abuse(text: str) -> list[tuple[int, int]]:
    """Character spans of abusive words aimed at the agent or bot, sorted, not overlapping."""
    lowered = text.lower()
    if len(lowered) == len(text):
        if not _ABUSE_SCREEN.search(lowered):
            return []
        subject, patterns = lowered, _ABUSE
    else:
        subject, patterns = text, _ABUSE_ANY_CASE
    spans = sorted({m.span("w") for p in patterns for m in p.finditer(subject)})
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def mask(text: str, spans: Iterable[tuple[int, int]]) -> str:
    """Replace each word inside ``spans`` with its first letter and asterisks."""

    def hide(word: re.Match[str]) -> str:
        return word.group(0)[0] + "*" * (len(word.group(0)) - 1)

    out: list[str] = []
    cursor = 0
    for start, end in sorted(spans):
        out.append(text[cursor:start])
        out.append(re.sub(r"\w+", hide, text[start:end]))
        cursor = end
    out.append(text[cursor:])
    return "".join(out)


#: Messages whose shingles are kept: a message is compared again with each of the
#: conversation's next ``RECENT_TEXTS`` messages, usually within seconds.
SHINGLE_CACHE_SIZE = 8192


@functools.lru_cache(maxsize=SHINGLE_CACHE_SIZE)
def _compared(text: str) -> tuple[frozenset[tuple[str, ...]], frozenset[str]]:
    """What repeats are judged on, from one split into words: :func:`shingles`
    and :func:`content_words`.

    Cached: each customer message is compared with the conversation's previous
    ones, so without it every message was split into words once as the new text
    and again on each of the next turns.
    """
    words = _WORD.findall(text.lower())
    bigrams = frozenset((w,) for w in words) if len(words) < 2 else frozenset(pairwise(words))
    return bigrams, frozenset(w for w in words if w not in _FUNCTION_WORDS)


def shingles(text: str) -> frozenset[tuple[str, ...]]:
    """Word bigrams of the normalised text; single words for one-word messages."""
    return _compared(text)[0]


def similar(a: frozenset[Hashable], b: frozenset[Hashable], threshold: float) -> bool:
    """Whether the Jaccard similarity of ``a`` and ``b`` is at least ``threshold``;
    two empty sets count as unrelated.

    Per customer message on the worker's hot path, so sets of very different
    sizes, which cannot reach it, are answered without building an intersection.
    """
    if not a or not b:
        return False
    small, large = sorted((len(a), len(b)))
    if small < threshold * large:
        return False
    shared = len(a & b)
    return shared >= threshold * (small + large - shared)


#: Words too common to say two messages are about the same thing.
_FUNCTION_WORDS = frozenset(
    """
    a an the i i'm im me my mine we our us you your it it's its is are was were
    be been being do does did done can could would should will shall may might
    must to of in on at for with from by about into and or but so if then than
    that this these those there here what when where which who whom how why not
    no yes ok okay hi hello hey please thanks thank cheers just also too now
    still again get got have has had am any some one all more very really yeah
    yep sure right well
    """.split()  # noqa: SIM905 - a word list reads better as text
)


def content_words(text: str) -> frozenset[str]:
    """The message's words less the function words (the words of its subject)."""
    return _compared(text)[1]


def shares_subject(text: str, previous: Sequence[str]) -> bool:
    """True when ``text`` has a content word in common with one of ``previous``.

    A repeat in meaning counts only with one: the sentence vectors of two calm
    follow-up questions ("can I overpay?", "and how long to get the money") are
    about as close as those of a question asked again in other words, so their
    closeness alone counted calm conversations as loops.
    """
    mine = content_words(text)
    return bool(mine) and any(mine & content_words(p) for p in previous)


def near_duplicate(text: str, previous: Sequence[str], threshold: float) -> bool:
    """True when ``text`` repeats one of ``previous`` (the customer going round in
    circles): its word bigrams, or its subject words, overlap that message's at
    ``threshold`` (Jaccard) or more.

    The subject words catch the same question asked again in a sharper tone,
    which the bigrams miss and the sentence vectors, tuned to read emotion, put
    far apart: "I said I don't have the app. How do I reset the router??" after
    "I don't have the app. How do I reset my router?" (bigrams 0.57, subject
    words 0.8, sentence vectors 0.51).
    """
    bigrams, subject = _compared(text)
    for p in previous:
        their_bigrams, their_subject = _compared(p)
        if similar(bigrams, their_bigrams, threshold) or similar(subject, their_subject, threshold):
            return True
    return False
