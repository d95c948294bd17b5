"""Situations a supervisor would not miss: loops from the bot's side, vulnerability,
unauthorised payments in acute distress, churn threats, regulator complaints."""

from __future__ import annotations

from datetime import timedelta

import pytest

from warmline.decisioning import detectors
from warmline.decisioning.decide import apply_event
from warmline.decisioning.policy import DEFAULT_POLICY_PATH, Policy, PolicyError, parse_policy
from warmline.decisioning.state import ConversationState
from warmline.v1 import escalation_pb2, events_pb2, scoring_pb2

from .support import CALM, DEFAULT, T0, Conversation, negative

Decision = escalation_pb2.EscalationDecision
BOT = events_pb2.ROLE_BOT


def run(
    events: list[scoring_pb2.ScoredEvent],
    policy: Policy = DEFAULT,
    state: ConversationState | None = None,
) -> list[Decision | None]:
    state = state if state is not None else ConversationState()
    return [
        apply_event(state, e, policy, T0 + timedelta(seconds=i + 1)) for i, e in enumerate(events)
    ]


def first(outcomes: list[Decision | None]) -> tuple[int, Decision]:
    for i, decision in enumerate(outcomes):
        if decision is not None:
            return i, decision
    raise AssertionError("nothing escalated")


def test_the_bot_repeating_itself_and_the_customer_asking_again_is_a_loop() -> None:
    c = Conversation()
    answer = "You can reset your router from the app under Settings."
    outcomes = run(
        [
            c.customer("How do I reset my router?"),
            c.other(BOT, answer),
            c.customer("I don't have the app. How do I reset my router?", repeat=0.86),
            c.other(BOT, answer, repeat=0.99),
            c.customer("How do I reset it without the app then?", repeat=0.88),
        ]
    )
    index, decision = first(outcomes)
    assert index == 4
    assert decision.reasons[0].code == "confusion_loop"
    assert "repeating the same answer" in decision.reasons[0].explanation


def test_the_bot_repeating_itself_and_the_customer_asking_again_in_other_words_is_a_loop() -> None:
    c = Conversation()
    answer = "Monthly passes are valid on all bus services within your zones."
    outcomes = run(
        [
            c.customer("Does my monthly pass work on the night buses?"),
            c.other(BOT, answer),
            c.customer(
                "The driver said it wasn't valid after midnight. So which is it?", repeat=0.3
            ),
            c.other(BOT, answer, repeat=0.99),
            c.customer(
                "Yes, but does 'all' include night buses or not?",
                signals={"negativity": 0.6, "confusion": 0.7, "frustration": 0.5},
                repeat=0.4,
            ),
        ]
    )
    index, decision = first(outcomes)
    assert index == 4
    assert decision.reasons[0].code == "confusion_loop"
    assert "repeating the same answer" in decision.reasons[0].explanation


def test_a_new_question_after_a_repeated_bot_answer_is_not_a_loop() -> None:
    c = Conversation()
    answer = "You can reset your router from the app under Settings."
    outcomes = run(
        [
            c.customer("How do I reset my router?"),
            c.other(BOT, answer),
            c.customer("And how do I change the wifi name?", repeat=0.4),
            c.other(BOT, answer, repeat=0.99),
            c.customer("Where is my nearest shop?", repeat=0.2),
        ]
    )
    assert outcomes == [None] * 5


def test_calm_follow_up_questions_close_in_meaning_but_on_new_subjects_are_not_a_loop() -> None:
    # The encoder's sentence vectors put calm follow-ups as close as real re-asks
    # (0.91 for these two); without a shared subject word they are not repeats.
    c = Conversation()
    outcomes = run(
        [
            c.customer("Can I overpay my loan if I want to?"),
            c.other(BOT, "Yes, you can overpay up to 10% a year without a fee."),
            c.customer("and how long to get the money", repeat=0.91),
            c.other(BOT, "Payments clear within two working days."),
            c.customer("ok set up a direct debit then please", repeat=0.9),
        ]
    )
    assert outcomes == [None] * 5


def test_the_same_question_in_other_words_still_counts_as_a_repeat() -> None:
    c = Conversation()
    outcomes = run(
        [
            c.customer("How do I reset my router?"),
            c.other(BOT, "Open the app and choose Restart."),
            c.customer("I don't have the app, how do I restart the router", repeat=0.9),
            c.other(BOT, "You can also restart it from the website."),
            c.customer(
                "the router still won't restart, what do I do",
                {"negativity": 0.2, "confusion": 0.5},
                repeat=0.88,
            ),
        ]
    )
    index, decision = first(outcomes)
    assert index == 4
    assert decision.reasons[0].code == "confusion_loop"
    assert "repeated themselves 2 times" in decision.reasons[0].explanation


def test_subject_words_leave_out_the_words_every_question_has() -> None:
    assert detectors.content_words("How do I get it? Thanks") == frozenset()
    assert detectors.content_words("How do I reset my router?") == {"reset", "router"}
    assert detectors.shares_subject("and the router?", ["How do I reset my router?"])
    assert not detectors.shares_subject("how long does it take?", ["How do I reset my router?"])
    assert not detectors.shares_subject("ok thanks", ["ok thanks"])


THANKS = "I wanted to say thank you to Daniel, he was so kind when my mum passed away."


def test_thanking_the_bereavement_team_is_not_a_new_bereavement() -> None:
    c = Conversation()
    reading = {"gratitude": 0.9, "negativity": 0.1, "neutral": 0.1}
    assert run([c.customer(THANKS, signals=reading)]) == [None]


def test_the_same_words_not_read_as_thanks_still_raise_the_sensitive_topic() -> None:
    c = Conversation()
    outcomes = run([c.customer(THANKS, signals={"gratitude": 0.2, "negativity": 0.1})])
    assert outcomes[0] is not None
    assert outcomes[0].reasons[0].code == "sensitive_topic"


def test_thanks_that_reads_upset_still_counts_its_words() -> None:
    c = Conversation()
    text = "Thanks for nothing. My dad is 89 and lives alone and his alarm is still dead."
    outcomes = run([c.customer(text, signals={"gratitude": 0.6, "negativity": 0.8})])
    assert outcomes[0] is not None
    assert outcomes[0].reasons[0].code == "vulnerability"


def test_going_round_in_circles_escalates_and_says_so() -> None:
    c = Conversation()
    outcomes = run([c.customer("We're going round in circles here.", signals=negative(0.3))])
    assert outcomes[0] is not None
    assert outcomes[0].reasons[0].code == "confusion_loop"
    assert "going round in circles" in outcomes[0].reasons[0].explanation


def test_an_unscored_loop_complaint_still_escalates() -> None:
    c = Conversation()
    event = c.customer("That's word for word what you said a minute ago.")
    event.scores.status = scoring_pb2.SCORE_STATUS_UNSUPPORTED_LANGUAGE
    (decision,) = run([event])
    assert decision is not None
    assert decision.reasons[0].code == "confusion_loop"


def test_loop_words_in_a_calm_turn_do_not_escalate() -> None:
    # "we're back to the ..." and "I just said" are loop complaints only when the
    # turn reads stuck; said calmly they are plans and corrections.
    c = Conversation()
    outcomes = run(
        [
            c.customer("We're back to the shop tomorrow, can I collect it then?"),
            c.other(BOT, "Yes, bring your order number."),
            c.customer("Great. As I just said, it's order 4412.", signals={"negativity": 0.1}),
        ]
    )
    assert outcomes == [None, None, None]
    # The same words read stuck are a loop.
    c = Conversation()
    (decision,) = run([c.customer("We're back to the app I don't have.", signals=negative(0.4))])
    assert decision is not None
    assert decision.reasons[0].code == "confusion_loop"


def test_an_unauthorised_payment_in_acute_distress_escalates_at_once_as_urgent() -> None:
    c = Conversation()
    (decision,) = run(
        [
            c.customer(
                "Someone has taken money from my account and I didn't authorise it, I'm scared",
                signals={"negativity": 0.97, "distress": 0.9},
                situations={"sensitive": 0.93},
            )
        ]
    )
    assert decision is not None
    assert [r.code for r in decision.reasons][:2] == ["acute_distress", "sensitive_topic"]
    assert decision.priority == escalation_pb2.PRIORITY_URGENT
    assert decision.queue == "specialist_care"


def test_a_sensitive_situation_read_from_meaning_alone_escalates() -> None:
    c = Conversation()
    (decision,) = run(
        [
            c.customer(
                "There's a payment on my statement I've never seen before",
                signals=negative(0.2),
                situations={"sensitive": 0.8},
            )
        ]
    )
    assert decision is not None
    assert decision.reasons[0].code == "sensitive_topic"
    assert "reads as a sensitive situation" in decision.reasons[0].explanation
    assert decision.queue == "specialist_care"


@pytest.mark.parametrize(
    ("text", "situations"),
    [
        ("My mum is 89, lives alone and her care alarm line has been dead for two days", None),
        ("The phone line is how my father calls for help", {"vulnerability": 0.85}),
    ],
)
def test_a_vulnerable_customer_gets_specialist_care(
    text: str, situations: dict[str, float] | None
) -> None:
    c = Conversation()
    worried = {"negativity": 0.4, "distress": 0.4}
    (decision,) = run([c.customer(text, worried, situations=situations)])
    assert decision is not None
    assert decision.reasons[0].code == "vulnerability"
    assert decision.queue == "specialist_care"
    assert decision.priority == escalation_pb2.PRIORITY_HIGH


def test_a_calm_question_naming_a_disability_is_left_to_the_bot() -> None:
    calm = Conversation()
    assert run([calm.customer("Can I get my bills in Braille? I'm registered blind")]) == [None]
    worried = Conversation()
    (decision,) = run(
        [
            worried.customer(
                "I'm registered blind and the bill letters are useless to me",
                {"negativity": 0.3, "frustration": 0.3},
            )
        ]
    )
    assert decision is not None and decision.reasons[0].code == "vulnerability"
    # A turn the model could not score may be anything: the phrase counts.
    unscored = Conversation()
    message = unscored.customer("Can I get my bills in Braille? I'm registered blind")
    message.scores.status = scoring_pb2.SCORE_STATUS_EMPTY
    (decision,) = run([message])
    assert decision is not None and decision.reasons[0].code == "vulnerability"


def test_a_calm_question_with_a_sensitive_word_is_left_to_the_bot() -> None:
    question = "Do I need to tell my travel insurance about my hospital stay last year?"
    calm = Conversation()
    assert run([calm.customer(question, CALM, situations={"sensitive": 0.1})]) == [None]
    # The model reading the message as a sensitive situation makes the word count.
    meant = Conversation()
    (decision,) = run([meant.customer(question, CALM, situations={"sensitive": 0.4})])
    assert decision is not None and decision.reasons[0].code == "sensitive_topic"
    # So does a worried reading of the same words.
    worried = Conversation()
    (decision,) = run([worried.customer(question, {"negativity": 0.2, "distress": 0.4})])
    assert decision is not None and decision.reasons[0].code == "sensitive_topic"
    # A turn the model could not score may be anything: the word counts.
    unscored = Conversation()
    message = unscored.customer(question)
    message.scores.status = scoring_pb2.SCORE_STATUS_EMPTY
    (decision,) = run([message])
    assert decision is not None and decision.reasons[0].code == "sensitive_topic"


@pytest.mark.parametrize(
    "text",
    [
        "I'm writing as executor: my father, the account holder, passed away on 3 March.",
        "I've just been told there was fraud on my account. What happens now?",
    ],
)
def test_a_calm_notice_of_a_death_or_a_fraud_still_goes_to_a_person(text: str) -> None:
    c = Conversation()
    (decision,) = run([c.customer(text, CALM, situations={"sensitive": 0.05})])
    assert decision is not None
    assert decision.reasons[0].code == "sensitive_topic"
    assert decision.queue == "specialist_care"


def test_a_gas_smell_goes_to_a_person_however_calmly_told_and_other_safety_words_do_not() -> None:
    c = Conversation()
    gas = "hi, not sure if this is anything but there's a faint smell of gas near the meter box"
    (decision,) = run([c.customer(gas, CALM, situations={"sensitive": 0.05})])
    assert decision is not None and decision.reasons[0].code == "sensitive_topic"
    assert "safety" in decision.reasons[0].explanation
    # "not safe" told calmly is a question the bot answers; upset, it is a person's.
    question = "is it not safe to use the app on public wifi?"
    assert run([Conversation().customer(question, CALM, situations={"sensitive": 0.05})]) == [None]


def test_a_formal_complaint_counts_told_upset_and_not_asked_about_calmly() -> None:
    asked = "Hi, how do I make a formal complaint? The chair arrived with a cracked leg."
    assert run([Conversation().customer(asked, CALM)]) == [None]
    told = (
        "Five working days to hear back is not acceptable. Please treat this as a formal complaint."
    )
    (decision,) = run([Conversation().customer(told, {"negativity": 0.7, "frustration": 0.7})])
    assert decision is not None and decision.reasons[0].code == "regulator_complaint"
    # A regulator named counts however calmly it is told.
    calm = "I'll be taking this to the ombudsman."
    (decision,) = run([Conversation().customer(calm, CALM)])
    assert decision is not None and decision.reasons[0].code == "regulator_complaint"


def test_a_calm_question_about_fraud_is_left_to_the_bot_and_a_loss_is_not() -> None:
    question = Conversation()
    asked = "hey whats the number for your fraud line in case i need it"
    assert run([question.customer(asked, CALM, situations={"sensitive": 0.05})]) == [None]
    # The same enquiry's wording with a loss in it is a case for the fraud team.
    loss = Conversation()
    told = "whats the number for your fraud line, someone has taken money from my account"
    (decision,) = run([loss.customer(told, CALM, situations={"sensitive": 0.05})])
    assert decision is not None and decision.reasons[0].code == "sensitive_topic"
    assert decision.queue == "specialist_care"


def test_the_sensitive_word_floor_is_the_policys() -> None:
    body = DEFAULT_POLICY_PATH.read_text().replace("sensitive_signal: 0.4", "sensitive_signal: 0.0")
    keyword_only = parse_policy(body, "test")
    text = "I have a hospital appointment on the 9th, can I move the engineer visit?"
    calm = {"sensitive": 0.05}
    (decision,) = run([Conversation().customer(text, CALM, situations=calm)], keyword_only)
    assert decision is not None and decision.reasons[0].code == "sensitive_topic"
    assert run([Conversation().customer(text, CALM, situations=calm)]) == [None]


def test_an_upset_churn_threat_goes_to_retention_and_a_calm_cancellation_does_not() -> None:
    upset = Conversation()
    (decision,) = run(
        [
            upset.customer(
                "If this isn't fixed today I'm cancelling and switching provider",
                signals=negative(0.6),
            )
        ]
    )
    assert decision is not None
    assert decision.reasons[0].code == "churn_threat"
    assert decision.queue == "retention"
    assert "cancelling" in decision.reasons[0].explanation
    calm = Conversation(conversation="c2")
    assert run([calm.customer("I'm cancelling because I'm moving abroad, how do I do it?")]) == [
        None
    ]


def test_a_regulator_complaint_goes_to_complaints() -> None:
    c = Conversation()
    (decision,) = run([c.customer("I'll be taking this to the ombudsman.")])
    assert decision is not None
    assert decision.reasons[0].code == "regulator_complaint"
    assert decision.queue == "complaints"


def test_situations_stick_and_block_deescalation() -> None:
    c = Conversation()
    events = [c.customer("I'm going to report you to the regulator.")]
    events += [c.customer("ok thanks") for _ in range(5)]
    outcomes = run(events)
    assert outcomes[0] is not None
    assert outcomes[1:] == [None] * 5


def test_situations_survive_the_changelog_round_trip() -> None:
    c = Conversation()
    state = ConversationState()
    run(
        [
            c.other(BOT, "hi", repeat=0.95),
            c.customer("My dad is disabled and lives alone", {"negativity": 0.3, "distress": 0.3}),
        ],
        state=state,
    )
    again = ConversationState.from_dict(state.to_dict())
    assert again.situations == state.situations
    assert again.situations["vulnerability"].startswith("they said")


def test_a_policy_with_an_unknown_situation_is_refused() -> None:
    text = DEFAULT_POLICY_PATH.read_text().replace(
        "    regulator_complaint: 0.5\n", "    regulator_complaint: 0.5\n    weather: 0.5\n", 1
    )
    with pytest.raises(PolicyError, match="weather"):
        parse_policy(text)


def test_a_pets_death_read_as_sensitive_by_meaning_is_left_to_the_bot() -> None:
    sad = {"negativity": 0.45, "distress": 0.45}
    pet = Conversation()
    message = "Our old cat was put to sleep last week, please cancel her vet plan"
    assert run([pet.customer(message, sad, situations={"sensitive": 0.8})]) == [None]
    assert run([Conversation().customer(message, sad, situations={"vulnerability": 0.8})]) == [None]
    # a person's death named beside it is still a first notice
    both = Conversation()
    (decision,) = run(
        [
            both.customer(
                "Our dog died last week and my husband passed away on Sunday",
                sad,
                situations={"sensitive": 0.8},
            )
        ]
    )
    assert decision is not None and decision.reasons[0].code == "sensitive_topic"


def test_a_calm_follow_up_with_the_bereavement_team_read_as_sensitive_is_left_to_the_bot() -> None:
    message = "I spoke to your bereavement team last week about my dad's account, where do I pay?"
    calm = {"negativity": 0.1, "distress": 0.1}
    assert run([Conversation().customer(message, calm, situations={"sensitive": 0.8})]) == [None]
    # told troubled, the model's reading counts again
    upset = {"negativity": 0.6, "distress": 0.6}
    (decision,) = run([Conversation().customer(message, upset, situations={"sensitive": 0.8})])
    assert decision is not None
    assert "sensitive_topic" in [reason.code for reason in decision.reasons]
    assert detectors.death_follow_up(message)


def test_a_calm_death_that_is_no_first_notice_counts_whatever_the_models_sense_of_it() -> None:
    message = (
        "Since my wife died a few years ago the account has been in my name. Can I pay online?"
    )
    calm = {"negativity": 0.1, "distress": 0.1}
    # the model reads every death as sensitive; the words say it is no first notice
    assert run([Conversation().customer(message, calm, situations={"sensitive": 0.4})]) == [None]
    first_notice = "My wife died on Friday, please take her name off the account."
    (decision,) = run([Conversation().customer(first_notice, calm, situations={"sensitive": 0.4})])
    assert decision is not None and decision.reasons[0].code == "sensitive_topic"


def test_a_decided_regulator_case_followed_up_calmly_is_left_to_the_bot() -> None:
    message = "Just checking the ombudsman's decision: has the 50 pound credit gone on?"
    mild = {"negativity": 0.35, "distress": 0.1}
    assert run([Conversation().customer(message, mild)]) == [None]
    # told upset, the regulator counts again
    (decision,) = run([Conversation().customer(message, negative(0.7))])
    assert decision is not None and decision.reasons[0].code == "regulator_complaint"
    # and naming a regulator still counts however it is told
    (threat,) = run([Conversation().customer("I'm going to the ombudsman about this.", mild)])
    assert threat is not None and threat.reasons[0].code == "regulator_complaint"


def test_a_death_already_dealt_with_told_a_little_sadly_is_left_to_the_bot() -> None:
    message = "Your bereavement team moved my late mum's account into my name. Where are the bills?"
    sad = {"negativity": 0.4, "distress": 0.3}
    assert run([Conversation().customer(message, sad)]) == [None]
    # nor does the model's sense of it as sensitive count
    assert run([Conversation().customer(message, sad, situations={"sensitive": 0.8})]) == [None]
    (upset,) = run([Conversation().customer(message, negative(0.7))])
    assert upset is not None and upset.reasons[0].code == "sensitive_topic"


def test_leaving_without_a_grievance_is_no_churn_threat_however_it_reads() -> None:
    message = (
        "We're moving and the new place has its own supplier. Nothing wrong with your service."
    )
    assert run([Conversation().customer(message, CALM, situations={"churn_threat": 0.9})]) == [None]
    (threat,) = run(
        [Conversation().customer("I'm switching supplier.", CALM, situations={"churn_threat": 0.9})]
    )
    assert threat is not None and threat.reasons[0].code == "churn_threat"


def test_a_calm_question_on_guarding_against_fraud_read_as_sensitive_is_left_to_the_bot() -> None:
    message = "I heard on the radio about SIM swap scams, how do I add a PIN to my account?"
    assert run([Conversation().customer(message, CALM, situations={"sensitive": 0.7})]) == [None]
    # a loss told the same way is the fraud team's
    loss = "I heard about SIM swap scams and now my number has gone and they took 300 pounds."
    (decision,) = run([Conversation().customer(loss, CALM, situations={"sensitive": 0.7})])
    assert decision is not None and decision.reasons[0].code == "sensitive_topic"
