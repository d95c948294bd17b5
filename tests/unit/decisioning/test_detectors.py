"""Rule-based detectors: positives and the false positives they must avoid."""

from __future__ import annotations

import re

import pytest

from warmline.decisioning import detectors
from warmline.decisioning.detectors import (
    ABUSE_WORDS,
    HUMAN_REQUEST_PATTERNS,
    SENSITIVE_TOPIC_PATTERNS,
    TARGETED_ABUSE_WORDS,
    abuse,
    explicit_human_request,
    mask,
    near_duplicate,
    sensitive_topics,
)


@pytest.mark.parametrize(
    "text",
    [
        "I want to talk to a human",
        "can I speak to a real person please",
        "Can I get a human?",
        "let me speak to a manager",
        "operator!!",
        "Representative",
        "agent please",
        "live agent",
        "is there someone real I can chat with? talk to someone real",
        "just transfer me to an agent",
        "I need a person, not a bot",
        "Please could a person ring me today.",
        "Can you open a ticket with a human on the support team?",
        "Could you pass it to a support engineer? Happy to wait for an email.",
        "honestly can someone real help me with this",
        "is there really nobody I can talk to about this?",
        "Please connect me to a customer care executive, bot is not understanding",
    ],
)
def test_human_request_phrasings(text: str) -> None:
    assert explicit_human_request(text) is not None


@pytest.mark.parametrize(
    "text",
    [
        "the agent said I would get a refund",
        "my travel agent booked the wrong flight",
        "I'm a real person with a real problem",
        "the operator of the site is down",
        "how do I change my password",
        "the engineer is booked for monday",
        "our team uses the app every day",
        "is anyone else having this problem?",
    ],
)
def test_human_request_false_positives(text: str) -> None:
    assert explicit_human_request(text) is None


@pytest.mark.parametrize(
    ("text", "topics"),
    [
        ("my father passed away last week", {"bereavement"}),
        ("we just had the funeral", {"bereavement"}),
        ("my wife died and the account is in her name", {"bereavement"}),
        ("there's an unauthorised charge, I think it's a scam", {"fraud"}),
        ("my card was stolen", set()),
        ("someone used my stolen card", {"fraud"}),
        ("I'll talk to my lawyer and take legal action", {"legal"}),
        ("I will sue you", {"legal"}),
        ("see you in court", {"legal"}),
        ("I want to kill myself", {"safety"}),
        ("my ex is threatening me", {"safety"}),
        ("I'm in hospital after surgery", {"health"}),
        ("I got the diagnosis yesterday", {"health"}),
        ("she goes into surgery on friday", {"health"}),
        # a GP's or dentist's surgery is a place
        ("he still needs calls from his GP surgery", set()),
        ("is the dental surgery open on saturdays?", set()),
        # A pet's death is not a bereavement (labelling guide), a person's beside it is.
        ("our cat passed away last month, please cancel the pet insurance", set()),
        ("the cactus you sent is very much deceased", set()),
        ("our dog died in May and my husband passed away last week", {"bereavement"}),
        # naming the bereavement service is a question or a follow-up, not a death
        ("I spoke to your bereavement team last week, where do I send the payment", set()),
        ("do you offer a bereavement fare?", set()),
        ("I was recently bereaved and can't face the paperwork", {"bereavement"}),
        ("there are 3 orders on here I didn't place", {"fraud"}),
        ("three orders on my account from last night that I didn't place", {"fraud"}),
        ("a payment of 86.40 was taken that I have not authorised", {"fraud"}),
    ],
)
def test_sensitive_topics(text: str, topics: set[str]) -> None:
    assert sensitive_topics(text) == topics


@pytest.mark.parametrize(
    "text",
    [
        "how does the fraud monitoring work on joint accounts?",
        "can you give me the number for your fraud team please, just to keep it handy",
        "Got a text saying my parcel needs a redelivery fee. Scam, right?",
        "my card got declined for fraud at the airport but it was me, can you unblock it",
        "what can I do to protect my mum against phone scams?",
        "I keep reading about courier scams, what should I look out for?",
        "where do I report a scam text pretending to be you?",
        "Got a text to pay a redelivery fee on a link. Didn't click it. Is it a scam?",
    ],
)
def test_fraud_enquiries_report_no_fraud(text: str) -> None:
    """A question about fraud that tells of no case is one a bot answers; naming
    fraud is not enough to send it to the fraud team."""
    assert "fraud" not in sensitive_topics(text)


@pytest.mark.parametrize(
    "text",
    [
        "Your fraud team said the payment was me but it wasn't, I was at work",
        "How do your fraud checks work if they let 3,000 go to a scammer? I've lost everything",
        "I read about scams like this and now I've been scammed",
        "whats the number for your fraud line, someone has taken money from my account",
        "Was that your fraud team? they rang and I gave them my PIN",
        "there is a payment I don't recognise, was that your fraud check?",
        "wait so is it a scam? they've already got a copy of my passport",
        "Got a text about a payment of 40 pounds. Scam, right? I didn't make any payment",
    ],
)
def test_fraud_enquiry_wording_does_not_hide_a_case(text: str) -> None:
    """A loss, a denial or an unrecognised payment keeps fraud whatever else the
    message asks."""
    assert "fraud" in sensitive_topics(text)


@pytest.mark.parametrize(
    "text",
    [
        "my phone died again",
        "I'll pursue this with the shop",
        "the threat of rain",
        "the food court is closed",
        "my internet is not working",
    ],
)
def test_sensitive_topic_false_positives(text: str) -> None:
    assert sensitive_topics(text) == set()


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("you idiot", "you i****"),
        ("You're useless", "You're u******"),
        ("shut up, stupid bot", "s*** u*, s***** bot"),
        ("this is fucking ridiculous, you moron", "this is f****** ridiculous, you m****"),
    ],
)
def test_abuse_is_found_and_masked(text: str, masked: str) -> None:
    spans = abuse(text)
    assert spans
    assert mask(text, spans) == masked


@pytest.mark.parametrize(
    "text",
    [
        "I feel stupid for missing the email",
        "my old phone was useless",
        "it's a pathetic situation but not your fault",
        "thank you so much",
    ],
)
def test_abuse_false_positives(text: str) -> None:
    assert abuse(text) == []


def test_mask_without_spans_is_identity() -> None:
    assert mask("all good", []) == "all good"


def test_near_duplicate_catches_rephrased_repeats_only() -> None:
    previous = ["I still can't log into my account", "ok thanks"]
    assert near_duplicate("i still CAN'T log into my account!!", previous, 0.6)
    assert near_duplicate("I still can't log into my account at all", previous, 0.6)
    assert not near_duplicate("what are your opening hours", previous, 0.6)
    assert not near_duplicate("anything", [], 0.6)


def test_the_same_question_asked_again_more_sharply_is_a_repeat_by_its_subject_words() -> None:
    # Bigrams 0.57; subject words {said, don't, app, reset, router} vs {don't, app, reset, router}.
    previous = ["I don't have the app. How do I reset my router?"]
    assert near_duplicate("I said I don't have the app. How do I reset the router??", previous, 0.6)
    # A follow-up on the same subject with new words is not.
    assert not near_duplicate("ok, and can I change the router's wifi name?", previous, 0.6)


@pytest.mark.parametrize(
    ("text", "asks", "topics", "masked"),
    [
        ("CAN I TALK TO A HUMAN", True, set(), "CAN I TALK TO A HUMAN"),
        ("My Husband PASSED AWAY, I need Help", False, {"bereavement"}, None),
        ("YOU USELESS Bot, Agent Please", True, set(), "YOU U****** Bot, Agent Please"),
        # "İ" lowercases to two characters; the masked word is still the right one.
        ("İstanbul office, you İdiot", False, set(), "İstanbul office, you İ****"),
    ],
)
def test_shouting_and_mixed_case_are_caught_and_masked_in_place(
    text: str, asks: bool, topics: set[str], masked: str | None
) -> None:
    assert (explicit_human_request(text) is not None) == asks
    assert sensitive_topics(text) == topics
    assert mask(text, abuse(text)) == (masked or text)


def test_every_pattern_is_written_in_lower_case() -> None:
    # Patterns run case-sensitively over lowercased text: a capital letter in one
    # would make it silently never match. Escapes such as \W are not letters.
    patterns = [
        *HUMAN_REQUEST_PATTERNS,
        *(p for group in SENSITIVE_TOPIC_PATTERNS.values() for p in group),
        *ABUSE_WORDS,
        *TARGETED_ABUSE_WORDS,
    ]
    upper = [p for p in patterns if re.sub(r"\\.", "", p) != re.sub(r"\\.", "", p).lower()]
    assert upper == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("If this isn't fixed today I'm cancelling and switching provider", True),
        ("I'm switching to another provider, I've had enough", True),
        ("I'll take my business elsewhere", True),
        ("How do I cancel my direct debit?", False),
        ("I'll be leaving for the airport at six", False),
        ("I'd like to cancel, please", False),
        ("I'm getting quotes from other suppliers this afternoon", True),
        ("honestly i'm going to be looking at other providers if this keeps happening", True),
        ("Is this the same network other providers use?", False),
        ("the car and the house are both going elsewhere at renewal", True),
        ("Moving my salary to another bank this month.", True),
        ("I will be leaving at the end of this month unless the fault is resolved", True),
        ("I am moving to another flat next month", False),
        ("can I take it elsewhere to be repaired?", False),
        ("please leave the parcel with a neighbour unless it needs a signature", False),
    ],
)
def test_churn_threats(text: str, expected: bool) -> None:
    assert (detectors.churn_threat(text) is not None) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I'm taking this to the ombudsman", True),
        ("I will report you to Ofcom", True),
        ("I'm going to the press with this", True),
        ("Could you press the button for me", False),
        ("What's the regular price?", False),
    ],
)
def test_regulator_complaints(text: str, expected: bool) -> None:
    assert (detectors.regulator_complaint(text) is not None) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("My mum is 89 and lives alone", True),
        ("my son is disabled and we rely on this line", True),
        ("he needs the oxygen machine at night", True),
        ("If this goes out I can't afford food this week", True),
        ("I'm 35 and live with my partner", False),
        ("The app is blind to my second account", True),
        ("dad is 85, he gets confused on the phone", True),
        ("my pension is all I have to live on", True),
        # Amounts and speeds are not ages; a question about a pension is not hardship.
        ("my broadband speed is 100 Mbps only whereas the plan says more", False),
        ("the bill is 85 pounds this month", False),
        ("it is 90% done", False),
        ("can I change where my pension is invested?", False),
    ],
)
def test_vulnerability_phrases(text: str, expected: bool) -> None:
    assert (detectors.vulnerability(text) is not None) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("We're going round in circles here", True),
        ("I still don't get it and that's the same sentence again", True),
        ("And we're back to the app I don't have.", True),
        ("Three different answers in five minutes.", True),
        ("we're back to normal now, thanks", False),
        ("I gave three different addresses over the years", False),
        ("you keep sending the same link", True),
        ("this is the third time you've said that", True),
        ("That worked, thanks", False),
        ("I went round to my neighbour's", False),
        ("I already tried that", True),
        ("I just did that, still nothing", True),
        # Done and it worked: not a loop.
        ("okay they've just done it it's gone through, thank you so much", False),
        ("Thanks, I've just done it online and it was about what I expected.", False),
    ],
)
def test_loop_complaints(text: str, expected: bool) -> None:
    assert (detectors.loop_complaint(text) is not None) is expected


@pytest.mark.parametrize(
    "text",
    ["can i just speak to someone", "Can I speak to an advisor?", "put me through to someone"],
)
def test_requests_for_someone_or_an_advisor_are_requests_for_a_person(text: str) -> None:
    assert detectors.explicit_human_request(text) is not None


def test_someone_as_the_subject_is_not_a_request() -> None:
    assert detectors.explicit_human_request("Someone has taken money from my account") is None


def test_the_size_shortcut_of_similar_never_changes_its_answer() -> None:
    import itertools

    universe = range(6)
    subsets = [frozenset(c) for n in range(7) for c in itertools.combinations(universe, n)]
    for a, b in itertools.product(subsets, repeat=2):
        for threshold in (0.3, 0.5, 0.6, 0.8, 1.0):
            exact = bool(a and b) and len(a & b) / len(a | b) >= threshold
            assert detectors.similar(a, b, threshold) is exact, (a, b, threshold)


def test_the_topics_told_to_a_person_however_calmly_are_topics_the_detector_knows() -> None:
    # A misspelt name would exempt nothing and leave calm notices of a death unescalated.
    assert set(detectors.ALWAYS_SENSITIVE_TOPICS) - set(detectors.SENSITIVE_TOPIC_PATTERNS) == set()
    assert "bereavement" in detectors.sensitive_topics("my mother passed away last week")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("human pls", True),
        ("lol the bot says 'in transit' since 2019, can a human tell me where it is", True),
        ("I would be grateful if a manager could contact me today.", True),
        ("I want a call from someone senior today, not another script-reader.", True),
        ("Please can someone with the authority to resolve this contact me.", True),
        ("Please could a member of staff telephone me to go through my tariff?", True),
        ("I'd rather speak to an account manager if that's possible", True),
        ("hello i want to speak to customer care executive regarding my loan", True),
        ("ah look would you put me on to a person please", True),
        ("can you get me someone who can actually look at my account", True),
        ("Is there a living, breathing person I can talk to about this?", True),
        ("is there a person i can speak to please", True),
        ("can you get me someone out to look at the boiler this week?", False),
        ("I was told a manager would call me back, is that still the plan?", False),
        ("Is there someone I could chat with who can look it up?", True),
        ("Please pass this to your complaints department.", True),
        # A person in the story, not a person asked for.
        ("The manager at the shop was lovely, thanks", False),
        ("I was told a member of staff had already fixed it", False),
        ("my account manager left last month, who is the new one?", False),
    ],
)
def test_more_ways_of_asking_for_a_person(text: str, expected: bool) -> None:
    assert (detectors.explicit_human_request(text) is not None) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Seriously though, fix it this week or I'm gone.", True),
        ("Never flying with you again once this one turns up.", True),
        ("order came stone cold, not using this app again", True),
        ("I look forward to celebrating my first year with one of your competitors.", True),
        ("We are now actively evaluating alternatives.", True),
        ("I'm going to have to put it out to tender if this continues", True),
        ("can you do anything or shall I just go elsewhere", True),
        ("if it happens again i'm moving my account to the building society", True),
        ("Great news, I've found a provider that actually answers the phone.", True),
        ("I'll go on a comparison site and you can whistle for it", True),
        ("we're seriously considering moving to another processor", True),
        ("Either take the £64 off or I'll port out.", True),
        ("if your app can't keep me logged in I'll just do my shopping somewhere that works", True),
        # Not threats: leaving a card, moving house, a calm plan.
        ("would be nice if the driver knocked instead of just leaving a card", False),
        ("I'm moving to another flat next month, how do I update my address?", False),
        ("I'll be using you again next year for sure", False),
        ("I'll keep the receipt somewhere safe", False),
        ("I'll store the spare router somewhere that stays dry", False),
    ],
)
def test_more_churn_threats(text: str, expected: bool) -> None:
    assert (detectors.churn_threat(text) is not None) is expected


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("hi i need to cancel my wife's mobile contract please she died in january", "bereavement"),
        ("I'm writing as executor for my father, who died on the 4th.", "bereavement"),
        ("Her account remains open after my late mother's funeral", "bereavement"),
        ("I enclose a certified copy of the death certificate.", "bereavement"),
        ("there's a payment on my acct i dont recognise", "fraud"),
        ("There is a payment of £49.99 on my card which I don't recognise.", "fraud"),
        ("there's a direct debit for a company I didn't set up, I didn't set this up", "fraud"),
        ("my son installed the router, I didn't set it up, what's the wifi password?", None),
        ("she passed her driving test yesterday so add her to the policy", None),
        ("my dad passed away last month", "bereavement"),
        ("Got a text asking if I made a $412 purchase at an electronics store. I didn't.", "fraud"),
        ("there's a faint smell of gas near the meter box outside", "safety"),
        ("no no smell of gas nothing like that just no heat", None),
        ("my phone died on the train", None),
        ("a payment of £42.99 to a company I've never heard of", "fraud"),
        ("I've never heard of your loyalty scheme, how does it work?", None),
        ("I didn't recognise the new menu", None),
    ],
)
def test_more_sensitive_topics(text: str, topic: str | None) -> None:
    assert detectors.sensitive_topics(text) == ({topic} if topic else set())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("she's eighty one and it's the boiler you service", True),
        ("my mum's got one of those alarm pendants that goes through the landline", True),
        ("I've been signed off work and the sick pay doesn't cover it", True),
        ("I'm between jobs and might be a couple of weeks late", True),
        ("I can do eighty on the motorway", False),
    ],
)
def test_more_vulnerability_phrases(text: str, expected: bool) -> None:
    assert (detectors.vulnerability(text) is not None) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I have sent the full timeline to the consumer section of our local paper", True),
        ("I am constrained to approach the consumer forum", True),
        ("I'd rather not involve the deposit scheme if it can be sorted", True),
        ("I'll be writing to the local paper about this", True),
        ("I read about your new plans in the local paper, sounds great", False),
        ("can I pay my deposit by card?", False),
    ],
)
def test_more_regulator_complaints(text: str, expected: bool) -> None:
    assert (detectors.regulator_complaint(text) is not None) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("that's word for word what you said a minute ago", True),
        ("you've just said the exact same thing", True),
        ("I asked this yesterday and got that exact answer", True),
        ("haha ok I think we're stuck in a loop", True),
        ("i've pressed one three times now and it keeps sending me right back to the start", True),
        ("I don't get it and the bot just repeats the number", True),
        ("I JUST told you it's not frozen", True),
        ("you say again same thing i don't understand", True),
        ("you've just read me the letter again", True),
        ("the loop antenna on my radio is broken", False),
        ("my phone is stuck in a boot loop since the update", False),
        ("my washing machine keeps repeating the rinse cycle", False),
        ("can you repeat the number please", False),
    ],
)
def test_more_loop_complaints(text: str, expected: bool) -> None:
    assert (detectors.loop_complaint(text) is not None) is expected


def test_no_pattern_opens_with_a_lookbehind() -> None:
    # A union whose branch opens with a lookbehind loses re's first-character
    # screen: the sensitive-topic screen ran ten times slower on every message.
    lists = [
        detectors.HUMAN_REQUEST_PATTERNS,
        *detectors.SENSITIVE_TOPIC_PATTERNS.values(),
        detectors.VULNERABILITY_PATTERNS,
        detectors.CHURN_PATTERNS,
        detectors.REGULATOR_PATTERNS,
        detectors.FORMAL_COMPLAINT_PATTERNS,
        detectors.LOOP_COMPLAINT_PATTERNS,
    ]
    opening = [p for patterns in lists for p in patterns if p.startswith(("(?<", "(?!"))]
    assert opening == []


@pytest.mark.parametrize(
    ("text", "shouted"),
    [
        ("NO WATER SINCE MONDAY AND NOBODY HAS TOLD US ANYTHING", True),
        ("CLOSE. THE. ACCOUNT.", True),
        ("I KNOW WHAT IT IS. I'm asking WHICH ONE", True),
        ("I've complained to the FCA and the CAA", False),
        ("OK THANKS", False),
        ("This is NOT what I asked for, I said REFUND", False),
    ],
)
def test_shouting_is_a_message_in_capitals(text: str, shouted: bool) -> None:
    assert detectors.shouting(text) is shouted


@pytest.mark.parametrize(
    ("detector", "text"),
    [
        ("churn_threat", "honestly it'd be easier to just move everything somewhere else"),
        ("churn_threat", "so I'm sat here wondering why I'm still with you"),
        ("churn_threat", "I want this fixed today or I cancel"),
        (
            "churn_threat",
            "price up AGAIN? time to see what the other streaming services are charging",
        ),
        (
            "regulator_complaint",
            "if it isn't refunded by Friday I'm filing a complaint with the DOT",
        ),
        ("regulator_complaint", "I'll be writing to the attorney general's office"),
        ("regulator_complaint", "next stop is the CRTC"),
    ],
)
def test_situations_told_in_other_words(detector: str, text: str) -> None:
    assert getattr(detectors, detector)(text) is not None


@pytest.mark.parametrize(
    "text",
    [
        "can i please speak to one of your technicians",
        "a person please",
        "real human pls",
    ],
)
def test_a_technician_or_a_plain_person_please_is_a_request(text: str) -> None:
    assert explicit_human_request(text) is not None


def test_a_cited_regulation_or_a_spoken_email_is_not_a_regulator() -> None:
    assert detectors.regulator_complaint("I may be entitled to compensation under UK261") is None
    assert detectors.regulator_complaint("it's jo dot smith at example dot com") is None


@pytest.mark.parametrize(
    ("text", "asks"),
    [
        ("i want to speak to your senior right now", True),
        ("I'd like this complaint passed to a manager, please.", True),
        ("I request you to kindly escalate this matter to a higher authority.", True),
        ("I would also like this handled by a named person, not another automated reply.", True),
        ("Is there anyone in Reviews I can actually speak to today?", True),
        ("is there not someone who could just take it over the phone", True),
        ("I would be grateful for a meeting with someone who is able to take this forward.", True),
        ("my daughter is a senior at high school now", False),
        ("can I transfer money to a higher interest account?", False),
        ("is there anyone who can tell me the opening hours?", False),
    ],
)
def test_requests_for_a_person_in_letters_and_on_the_phone(text: str, asks: bool) -> None:
    # Each request holds one of the screen's words, or it would never be tried.
    assert (explicit_human_request(text) is not None) is asks


@pytest.mark.parametrize(
    ("text", "threat"),
    [
        (
            "Unless this increase is withdrawn, I will be moving my broadband, TV and both "
            "mobiles to another provider.",
            True,
        ),
        ("Fix it or I'm closing every account I have with you.", True),
        ("I'm afraid we will be celebrating elsewhere in future.", True),
        ("got a quote elsewhere for £390 less. can you do anything or shall I just go", True),
        ("Please accept this as notice that I will not be renewing my home insurance.", True),
        ("how do I move my tv box to another room", False),
        ("shall I just go to the website then?", False),
        ("we will be staying with my mum while the kitchen is done", False),
    ],
)
def test_churn_threats_from_letters_and_renewals(text: str, threat: bool) -> None:
    assert (detectors.churn_threat(text) is not None) is threat


@pytest.mark.parametrize(
    ("text", "fraud"),
    [
        ("Three card payments went out yesterday that I didn't make: £12.50 and £48.00.", True),
        ("a transaction of 48,000 rupees I did not do. That is nearly my salary", True),
        ("I did NOT authorise this. My rent bounced because of you.", True),
        ("A payment was taken on the 3rd. I have not authorised any further payments.", True),
        ("There's a payment of £42.99 to 'Novastream Media'. I've never heard of them.", True),
        ("a text saying a new device has been added to my account. I haven't added anything", True),
        ("a letter about a loan application and i don't remember applying for anything", True),
        ("my number's being moved to another network but i haven't asked to move it", True),
        ("my direct debit bounced but I didn't do anything different", False),
        ("the payment is too high and I don't make enough to cover it", False),
        ("I haven't added anything to the router, it just stopped", False),
    ],
)
def test_payments_and_account_changes_the_customer_denies_are_fraud(text: str, fraud: bool) -> None:
    assert ("fraud" in detectors.sensitive_topics(text)) is fraud


@pytest.mark.parametrize(
    ("text", "vulnerable"),
    [
        ("you've taken £64 out today instead of £32. that was the shopping money", True),
        ("i've got about thirty quid to last me till friday i really need that back", True),
        ("I've got £23 in my account until I get paid on the 28th. you've just taken £45.", True),
        ("I am a widow and this is all I have until month end.", True),
        ("I don't understand how that adds up and I can't really afford 118.", True),
        ("I've been off work with depression since February and fallen behind.", True),
        ("no water since this morning and I've got a 3 month old. how am I meant to", True),
        ("Winter is starting and we have a newborn in the house.", True),
        ("my 6-month-old laptop broke again", False),
        ("the anxiety of waiting for a refund is getting to me", False),
        ("can I move my payment date to after I get paid?", False),
    ],
)
def test_hardship_a_baby_and_mental_health_show_a_vulnerable_customer(
    text: str, vulnerable: bool
) -> None:
    assert (detectors.vulnerability(text) is not None) is vulnerable


@pytest.mark.parametrize(
    ("text", "topics"),
    [
        ("there's a faint smell of gas near the meter box outside", {"safety"}),
        ("our carbon monoxide alarm is going off", {"safety"}),
        ("no smell of gas, just no heat", set()),
        # stranded at night: roadside assistance or the station staff, at once
        ("my car's conked out on the highway and it's getting dark", {"safety"}),
        ("I'm on my own at the station, it's half 12", {"safety"}),
        ("the driver on Saturday was nodding off at the wheel", set()),
    ],
)
def test_only_an_emergency_stays_sensitive_when_calmly_told(text: str, topics: set[str]) -> None:
    assert detectors.always_sensitive(text, detectors.sensitive_topics(text)) == topics


@pytest.mark.parametrize(
    ("text", "safety"),
    [
        ("my car's conked out on the highway about forty k past the roadhouse, getting dark", True),
        ("last train's cancelled and i'm on my own at the station, it's half 12", True),
        ("I've broken down on the motorway on the hard shoulder", True),
        ("the tv box has been stuck on the loading screen since last night", False),
    ],
)
def test_a_customer_stranded_at_night_is_a_safety_matter(text: str, safety: bool) -> None:
    assert ("safety" in detectors.sensitive_topics(text)) is safety


def test_a_dependant_who_relies_on_the_service_is_vulnerable() -> None:
    assert detectors.vulnerability("my mother relies on it to ring me every evening")
    assert detectors.vulnerability("whether I post it depends on the next ten minutes") is None


@pytest.mark.parametrize(
    ("text", "abused"),
    [
        ("right listen you stupid woman just give me my money back", ["stupid woman"]),
        ("i'm not discussing it with some silly little girl", ["silly little girl"]),
        ("put me through to someone with a brain", ["someone with a brain"]),
        (
            "keep ignoring me and see what happens. I know where your head office is.",
            ["I know where your head office is"],
        ),
        ("the stupid woman at the branch was actually very nice", []),
        ("my wife is a senior manager with a brain for numbers", []),
    ],
)
def test_insults_to_the_agent_and_threats_are_abuse(text: str, abused: list[str]) -> None:
    assert [text[a:b] for a, b in detectors.abuse(text)] == abused


def test_a_transfer_of_money_to_someone_is_no_request_for_a_person() -> None:
    text = "how do i send an e-transfer to someone who isnt in my contacts"
    assert explicit_human_request(text) is None


@pytest.mark.parametrize(
    ("text", "topics", "always"),
    [
        (
            "payment of £240 on Saturday to a shop in Leeds. I've never been to Leeds and I "
            "didn't make it.",
            {"fraud"},
            {"fraud"},
        ),
        (
            "i see one pending for $312 from an electronics store in ohio. i've never been to "
            "ohio and i didn't buy that",
            {"fraud"},
            {"fraud"},
        ),
        (
            "my card was blocked for suspected fraud in the middle of the trip. How to avoid it?",
            set(),
            set(),
        ),
        (
            "can I set a travel notice so my card doesnt get flagged as fraud in mexico",
            set(),
            set(),
        ),
        ("there's like a rotten egg kind of smell by the meter outside", {"safety"}, {"safety"}),
        ("the kitchen smells like gas since this morning", {"safety"}, {"safety"}),
        (
            "I notified you of my husband's passing in March. Has the death certificate arrived?",
            {"bereavement"},
            set(),
        ),
        (
            "my husband passed away on Sunday and I need to close his account",
            {"bereavement"},
            {"bereavement"},
        ),
        (
            "There are two charges of $9.99 from your app on my statement. I've never had an "
            "account with you.",
            {"fraud"},
            {"fraud"},
        ),
        # a death years past, told in passing: the guide's line, not a first notice
        (
            "since my wife passed away a couple of years back the bills have been in my name, "
            "can I pay quarterly?",
            {"bereavement"},
            set(),
        ),
        # ... but a death told as the reason for the change is a first notice
        (
            "my wife died last year, please take her name off the account",
            {"bereavement"},
            {"bereavement"},
        ),
        (
            "Thank you for your letter confirming my late father's accounts are frozen. What next?",
            {"bereavement"},
            set(),
        ),
        (
            "As you asked, I enclose a copy of the grant of probate for my aunt's estate.",
            {"bereavement"},
            set(),
        ),
        ("Please cancel the vet plan for our cat. She died on Tuesday.", set(), set()),
        (
            "The water account was moved to my name after my father passed away. How do I "
            "pay by card?",
            {"bereavement"},
            set(),
        ),
        (
            "Following up on my call with your bereavement team: my late mother's certificate "
            "is attached.",
            {"bereavement"},
            set(),
        ),
        (
            "Do you refund the fare when there's a death in the family? Asking ahead of a trip.",
            {"bereavement"},
            set(),
        ),
        (
            "Please cancel the vet plan for our cat. My husband died on Tuesday and I can't "
            "manage it.",
            {"bereavement"},
            {"bereavement"},
        ),
    ],
)
def test_denials_enquiries_gas_and_deaths_that_are_no_first_notice(
    text: str, topics: set[str], always: set[str]
) -> None:
    found = detectors.sensitive_topics(text)
    assert found == topics
    assert detectors.always_sensitive(text, found) == always


@pytest.mark.parametrize(
    ("text", "asks"),
    [
        ("yeah hi can i just get a person um i've got a question about porting", True),
        (
            "I would prefer to discuss this with a member of your mortgage team directly.",
            True,
        ),
        ("I'd like to discuss my options for the renewal", False),
    ],
)
def test_more_requests_for_a_person(text: str, asks: bool) -> None:
    assert (explicit_human_request(text) is not None) is asks


def test_saying_how_angry_they_are_is_a_fury_word() -> None:
    assert detectors.fury("This is outright theft and I am absolutely livid!!!") == "livid"
    assert detectors.fury("I was furious at first but it's sorted now") == "furious"
    assert detectors.fury("the kids are fuming that the app is down lol") == "fuming"
    assert detectors.fury("thanks, that fixed it") is None


@pytest.mark.parametrize(
    ("text", "asks"),
    [
        ("I would be grateful if a claims manager could phone me this week.", True),
        ("I'd sooner sort this out by speaking to someone directly.", True),
        ("It's complicated, I'd rather talk it through with an adviser.", True),
        ("Could you book me in with someone from the mortgage team?", True),
        ("Please pass this to somebody who isn't a script.", True),
        ("I need an actual member of staff to see the account.", True),
        ("I'd like a person to look at this before anything is closed.", True),
        ("I was speaking to someone yesterday who said it was fixed.", False),
        ("The adviser would call me back, she said, but it's fine, the app did it.", False),
    ],
)
def test_calm_requests_for_a_person_in_other_words(text: str, asks: bool) -> None:
    assert (explicit_human_request(text) is not None) is asks


@pytest.mark.parametrize(
    ("text", "threat"),
    [
        ("if the report is still wrong tomorrow I will shift to the other software", True),
        ("fix it this week or I'm going to another provider, simple as that", True),
        ("I'll move to the other plan you mentioned, the cheaper one", False),
    ],
)
def test_moving_to_the_other_software_is_a_churn_threat(text: str, threat: bool) -> None:
    assert (detectors.churn_threat(text) is not None) is threat


@pytest.mark.parametrize(
    ("text", "shouted"),
    [
        ("They moved my booking AGAIN. Third time. ABSOLUTELY ridiculous!!", True),
        ("I was charged by 'ACME DIGITAL SVCS', what is it?", False),
        ("WHERE is my REFUND", True),
        ("Please send the PDF to my work address", False),
    ],
)
def test_shouted_words_in_a_mixed_message_count_as_shouting(text: str, shouted: bool) -> None:
    assert detectors.shouting(text) is shouted


@pytest.mark.parametrize(
    ("detector", "text", "found"),
    [
        ("explicit_human_request", "Could I speak to one of your nurses about the dosage?", True),
        ("explicit_human_request", "I would like the duty manager to ring me tonight.", True),
        ("explicit_human_request", "I'd like this handled by someone who can read the logs.", True),
        ("explicit_human_request", "I spoke to one of your drivers this morning.", False),
        ("vulnerability", "i'm out of work since june and there's no money for the gas", True),
        ("vulnerability", "my broadband is not working since Monday", False),
        ("vulnerability", "we're only getting the allowance this month", True),
        ("vulnerability", "We're adding my newborn son to the family policy.", False),
        ("vulnerability", "We've got a newborn and the heating is off.", True),
        ("churn_threat", "honestly I might just switch over, my neighbour did", True),
        ("churn_threat", "Should I move over to the new paperless plan?", False),
        ("regulator_complaint", "I'm sending all of this to the papers.", True),
        ("regulator_complaint", "I'll lodge it with the consumer council.", True),
        ("loop_complaint", "it's a merry-go-round with you lot", True),
        ("loop_complaint", "the engineer came round and sorted it", False),
    ],
)
def test_requests_hardship_churn_regulators_and_loops_in_other_words(
    detector: str, text: str, found: bool
) -> None:
    assert (getattr(detectors, detector)(text) is not None) is found


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("the tablets were the wrong medication and she feels dizzy", "health"),
        ("He says he's got chest pains since taking them", "health"),
        ("water is dripping from the light fitting in the hall", "safety"),
        ("the bathroom ceiling has come down", "safety"),
        ("there's a weird smell by the boiler, kind of like rotten eggs", "safety"),
        ("A transfer left my ISA yesterday and I never requested any transfer.", "fraud"),
        ("Can I transfer my ISA? I never requested a paper statement.", None),
        ("the leak under the sink is fixed, thanks", None),
    ],
)
def test_symptoms_water_on_the_electrics_and_a_transfer_never_asked_for(
    text: str, topic: str | None
) -> None:
    expected = {topic} if topic else set()
    assert detectors.sensitive_topics(text) == expected


@pytest.mark.parametrize(
    ("text", "threat"),
    [
        ("Come down here again and you'll see what happens.", True),
        ("I will sort you out, mark my words.", True),
        ("I'll sort it out with the bank myself.", False),
    ],
)
def test_threats_against_staff_are_abuse(text: str, threat: bool) -> None:
    assert bool(detectors.abuse(text)) is threat


@pytest.mark.parametrize(
    ("detector", "text", "found"),
    [
        ("regulator_decided", "Checking on the ombudsman's final decision from May.", True),
        (
            "regulator_decided",
            "My complaint with the financial ombudsman was upheld last week.",
            True,
        ),
        ("regulator_decided", "I'm taking this to the ombudsman.", False),
        ("no_grievance", "Nothing wrong with your service, we're just moving abroad.", True),
        ("no_grievance", "You've been great, but the new flat has its own supplier.", True),
        ("no_grievance", "Your service has been dreadful.", False),
        ("death_follow_up", "The bereavement team put Mum's account into my name, thanks.", True),
        ("death_follow_up", "Thanks for your help when I told you about my father.", True),
        ("death_follow_up", "My father died on Monday.", False),
        ("fraud_enquiry", "I saw something about phone scams, how do I protect my account?", True),
        ("fraud_enquiry", "I read about scams and then I paid them 400 pounds.", False),
    ],
)
def test_settled_cases_planned_moves_follow_ups_and_enquiries(
    detector: str, text: str, found: bool
) -> None:
    assert getattr(detectors, detector)(text) is found


@pytest.mark.parametrize(
    ("detector", "text", "found"),
    [
        ("explicit_human_request", "I'd rather go through it with somebody, if that's ok", True),
        (
            "explicit_human_request",
            "honestly I'd prefer to talk it over with one of the team",
            True,
        ),
        ("explicit_human_request", "can I be put through to one of your advisers?", True),
        ("explicit_human_request", "I want to speak with whoever manages the bookings", True),
        ("explicit_human_request", "Is there nobody there who can sit down with my file?", True),
        ("explicit_human_request", "I've been put through to billing twice today already.", False),
        ("churn_threat", "I'm thinking of moving all my savings to the other bank", True),
        ("churn_threat", "seriously considering closing this account after today", True),
        ("churn_threat", "I'll just let the membership lapse and sign up with them", True),
        ("churn_threat", "I'm close to deleting this app altogether", True),
        ("churn_threat", "I'm thinking of moving house next year, will the plan move too?", False),
        ("loop_complaint", "I ask for a refund and you keep offering vouchers", True),
    ],
)
def test_requests_and_churn_told_in_passing(detector: str, text: str, found: bool) -> None:
    assert (getattr(detectors, detector)(text) is not None) is found


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("Two payments to a shop I never heard of went out last night.", "fraud"),
        ("The mobile number was changed on Tuesday and I haven't asked for that.", "fraud"),
        ("I don't know who's been using my card but it wasn't me.", "fraud"),
        ("At first I didn't recognise the charge, but I checked and it's my gym renewing.", None),
        ("We're on the hard shoulder of the motorway with the kids in the back.", "safety"),
        ("The driver asked if I was home alone and he's still parked outside.", "safety"),
        ("Our driver was nodding off at the wheel the whole way.", "safety"),
    ],
)
def test_payments_never_known_a_road_shoulder_and_a_drivers_menace(
    text: str, topic: str | None
) -> None:
    expected = {topic} if topic else set()
    assert detectors.sensitive_topics(text) == expected


@pytest.mark.parametrize(
    ("text", "pet"),
    [
        ("We booked the pet fare for our dog on the 18th, ref TK4452. She died last week.", True),
        ("Our old lab died last month, please take the pet cover off.", True),
        ("My husband died last week, our dog is with my sister.", False),
    ],
)
def test_pets_told_of_by_breed_or_a_sentence_later(text: str, pet: bool) -> None:
    assert detectors.pet_death(text) is pet


def test_the_bereavement_service_in_other_words_is_a_follow_up() -> None:
    assert detectors.death_follow_up(
        "I talked with your, um, bereavement folks last week about my husband's account"
    )


@pytest.mark.parametrize(
    ("detector", "text", "found"),
    [
        (
            "explicit_human_request",
            "if there's someone there I can actually talk to, that'd help",
            True,
        ),
        ("explicit_human_request", "is there a person there I could have a yarn to?", True),
        ("explicit_human_request", "it'd be easier if someone could just ring me", True),
        (
            "explicit_human_request",
            "grateful if someone from the workshop who can see the order could call me",
            True,
        ),
        ("explicit_human_request", "if there's a delay, just email me", False),
        ("regulator_complaint", "I'll be lodging it with the Ombud next week", True),
        ("regulator_complaint", "straight to the disputes tribunal if it's not fixed", True),
        ("regulator_complaint", "I'm sending all of it to the money pages", True),
        ("vulnerability", "that was the last of my money until Friday", True),
        ("loop_complaint", "We go in circles. Which one is it?", True),
    ],
)
def test_requests_regulators_and_hardship_from_a_fifth_round(
    detector: str, text: str, found: bool
) -> None:
    assert (getattr(detectors, detector)(text) is not None) is found


@pytest.mark.parametrize(
    ("text", "topics"),
    [
        ("£340 has gone out to you for a phone and I haven't bought a phone.", {"fraud"}),
        ("My login email had been changed, which wasn't me.", {"fraud"}),
        ("There's a new plan on my account and I haven't ordered anything.", {"fraud"}),
        ("There's a burning smell coming off the heat pump.", {"safety"}),
        ("Our cat died last week. Please cancel her policy from the date she died.", set()),
        ("Our cat died last month and my father died on Sunday.", {"bereavement"}),
    ],
)
def test_money_gone_a_changed_login_a_burning_smell_and_a_pets_pronoun(
    text: str, topics: set[str]
) -> None:
    assert detectors.sensitive_topics(text) == topics


def test_probate_sent_as_the_bereavement_team_asked_is_a_follow_up() -> None:
    assert detectors.death_follow_up(
        "She asked me to send a certified copy of the grant of probate. Where to?"
    )
