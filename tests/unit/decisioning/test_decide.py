"""The decision core, fed hand-built scored events."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from warmline.common.keys import derived_id
from warmline.decisioning.decide import apply_event, dominant_emotion, idle_keys
from warmline.decisioning.policy import Policy, Routing
from warmline.decisioning.state import ConversationState, CustomerHistory
from warmline.v1 import escalation_pb2, events_pb2, scoring_pb2

from .support import DEFAULT, T0, Conversation, negative, policy_with

E = escalation_pb2
Decision = escalation_pb2.EscalationDecision


def run(
    events: list[scoring_pb2.ScoredEvent],
    policy: Policy = DEFAULT,
    state: ConversationState | None = None,
    history: CustomerHistory | None = None,
) -> list[Decision | None]:
    """Apply events in order, one second apart, returning each outcome."""
    state = state if state is not None else ConversationState()
    return [
        apply_event(state, e, policy, T0 + timedelta(seconds=i + 1), history)
        for i, e in enumerate(events)
    ]


def codes(decision: Decision | None) -> set[str]:
    assert decision is not None
    return {r.code for r in decision.reasons}


# Isolate one rule at a time by switching the others far out of reach.
ONLY_SUSTAINED = policy_with("\ntenants:\n  acme:\n    thresholds: {streak_length: 99}\n")


def test_calm_conversation_never_escalates() -> None:
    c = Conversation()
    texts = ["hi, my order hasn't arrived", "it was order from tuesday", "ok, thank you", "great"]
    events = []
    for text in texts:
        events += [c.customer(text), c.other(events_pb2.ROLE_BOT, "Let me check that for you.")]
    events.append(c.other(events_pb2.ROLE_SYSTEM, kind=events_pb2.EVENT_KIND_CONVERSATION_ENDED))
    assert run(events) == [None] * len(events)


def test_sustained_negativity_fires_and_not_on_one_bad_turn() -> None:
    c = Conversation()
    outcomes = run(
        [c.customer("ugh", negative(0.9)), c.customer("ugh", negative(0.9))], ONLY_SUSTAINED
    )
    assert outcomes[0] is None
    assert codes(outcomes[1]) == {"sustained_negativity"}
    assert outcomes[1] is not None and outcomes[1].action == E.DECISION_ACTION_ESCALATE


def test_negative_streak_fires_and_resets_on_a_calm_turn() -> None:
    c = Conversation()
    mild = negative(0.5)
    first, second = run([c.customer("a", mild), c.customer("b", mild)])
    assert first is None  # one negative turn is not a streak (default length 2)
    assert codes(second) == {"negative_streak"}
    c = Conversation()
    # (negative, calm, negative is upset coming back: see the sustained test below)
    calm_break = [
        c.customer("a", mild),
        c.customer("fine"),
        c.customer("ok"),
        c.customer("c", mild),
    ]
    assert run(calm_break) == [None] * 4


def test_peak_anger_fires_high_and_not_below_threshold() -> None:
    c = Conversation()
    decision = run([c.customer("this is outrageous", {"anger": 0.9, "negativity": 0.4})])[0]
    assert codes(decision) == {"peak_anger"}
    assert decision is not None and decision.priority == E.PRIORITY_HIGH
    c = Conversation()
    assert run([c.customer("hmm", {"anger": 0.35, "negativity": 0.4})]) == [None]


def test_saying_they_are_livid_is_peak_anger_only_in_a_negative_turn() -> None:
    c = Conversation()
    livid = (
        "The rep swore there would be NO fee. This is outright theft and I am absolutely livid!!!"
    )
    decision = run([c.customer(livid, {"anger": 0.2, "negativity": 0.9})])[0]
    assert codes(decision) == {"peak_anger"}
    assert decision is not None and "\u201clivid\u201d" in decision.reasons[0].explanation
    # "I was furious at first" in a turn that reads calm is a story, not anger now.
    c = Conversation()
    calm = "I was furious at first but it's all sorted now, thanks"
    assert run([c.customer(calm, {"anger": 0.05, "negativity": 0.2})]) == [None]


def test_a_negative_message_in_capitals_is_peak_anger_even_when_anger_reads_low() -> None:
    # The encoder reads lower case; capitals are anger only the rules can see.
    c = Conversation()
    shouted = "NO WATER SINCE MONDAY AND NOT ONE PERSON HAS TOLD US WHAT'S GOING ON!!!"
    decision = run([c.customer(shouted, {"anger": 0.2, "negativity": 0.8})])[0]
    assert codes(decision) == {"peak_anger"}
    assert decision is not None
    assert "shouting" in decision.reasons[0].explanation
    # Capitals that read calm (a caps-lock user asking a question) are not anger...
    c = Conversation()
    calm = "HI CAN YOU TELL ME WHEN MY NEXT BILL IS DUE PLEASE"
    assert run([c.customer(calm, {"anger": 0.0, "negativity": 0.1})]) == [None]
    # ...and an acronym or two in a negative message is not shouting.
    c = Conversation()
    acronyms = "The APN on the SIM is wrong and the MMS still fails, no 4G either."
    assert run([c.customer(acronyms, {"anger": 0.2, "negativity": 0.45})]) == [None]


def test_upset_that_comes_back_after_a_flat_answer_is_sustained() -> None:
    # Negative, a flat answer to the bot's question, negative again: no streak, and
    # the weighted average stays under its threshold, but the upset is sustained.
    c = Conversation()
    events = [
        c.customer("Cancelled again tonight, third time this week.", negative(0.9)),
        c.customer("Season ticket, monthly.", negative(0.1)),
        c.customer("And how do I know it won't happen again tomorrow?", negative(0.8)),
    ]
    decisions = run(events)
    assert decisions[:2] == [None, None]
    assert codes(decisions[2]) == {"sustained_negativity"}
    assert decisions[2] is not None
    assert "came back" in decisions[2].reasons[0].explanation
    # A grudging thanks at the end is the conversation winding down...
    c = Conversation()
    thanks = {**negative(0.7), "gratitude": 0.8}
    events = [
        c.customer("Cancelled again tonight, third time this week.", negative(0.9)),
        c.customer("Season ticket, monthly.", negative(0.1)),
        c.customer("OK, thanks for sorting it. Still annoying though.", thanks),
    ]
    assert run(events) == [None, None, None]
    # ...and two upset messages further apart than that are not sustained.
    c = Conversation()
    levels = (0.9, 0.1, 0.1, 0.8)
    assert (
        run([c.customer(f"message {i}", negative(x)) for i, x in enumerate(levels)]) == [None] * 4
    )


def test_confusion_loop_from_repeated_messages() -> None:
    c = Conversation()
    bot = "Sorry, I didn't get that."
    events = []
    for _ in range(3):
        events += [
            c.customer("how do I reset my router password", {"confusion": 0.6}),
            c.other(events_pb2.ROLE_BOT, bot),
        ]
    outcomes = run(events)
    assert outcomes[:4] == [None] * 4
    assert codes(outcomes[4]) == {"confusion_loop"}
    assert outcomes[4] is not None and outcomes[4].queue == "technical"


@pytest.mark.parametrize(
    ("signals", "escalates"),
    [
        ({"negativity": 0.05, "confusion": 0.1, "frustration": 0.1}, False),
        ({"negativity": 0.05, "confusion": 0.1, "frustration": 0.25}, True),
        ({"negativity": 0.3, "confusion": 0.0}, True),
        ({}, True),  # not scored: nothing says the repeat is calm
    ],
)
def test_a_repeat_that_reads_calm_is_a_follow_up_not_a_loop(
    signals: dict[str, float], escalates: bool
) -> None:
    c = Conversation()
    texts = [
        "can I set a limit on his card",
        "can I set a limit on the card",
        "can I set a limit on his card too",
    ]
    events = []
    for text in texts:
        customer = c.customer(text, signals or None)
        if not signals:
            customer.scores.status = scoring_pb2.SCORE_STATUS_EMPTY
        events += [customer, c.other(events_pb2.ROLE_BOT, "Yes: Cards > Limits.")]
    outcome = run(events)[4]
    if escalates:
        assert codes(outcome) == {"confusion_loop"}
    else:
        assert outcome is None


def test_confusion_loop_from_many_bot_turns_only_when_still_confused() -> None:
    c = Conversation()
    bots = [c.other(events_pb2.ROLE_BOT, f"answer {i}") for i in range(6)]
    assert codes(run([*bots, c.customer("what?", {"confusion": 0.7})])[-1]) == {"confusion_loop"}
    c = Conversation()
    bots = [c.other(events_pb2.ROLE_BOT, f"answer {i}") for i in range(6)]
    assert run([*bots, c.customer("ok got it", {"confusion": 0.1})])[-1] is None


@pytest.mark.parametrize(
    ("first", "second", "escalates"),
    [
        (0.47, 0.80, True),  # a dry complaint just under the line, then a plain one
        (0.80, 0.47, True),
        (0.40, 0.80, False),  # the first reads calm enough
        (0.47, 0.55, False),  # neither plainly upset
    ],
)
def test_upset_building_over_two_turns_is_a_negative_streak(
    first: float, second: float, escalates: bool
) -> None:
    c = Conversation()
    decisions = run(
        [
            c.customer("your app says no known issues in my area", {"negativity": first}),
            c.customer("ah so there is one. 11pm it is then", {"negativity": second}),
        ]
    )
    assert decisions[0] is None
    if not escalates:
        assert decisions[1] is None
        return
    assert codes(decisions[1]) == {"negative_streak"}
    assert decisions[1] is not None
    assert f"{first:.2f}, then {second:.2f}" in decisions[1].reasons[0].explanation


def test_confusion_loop_when_each_answer_leaves_the_customer_still_confused() -> None:
    lost = {"confusion": 0.7, "negativity": 0.1}
    texts = ["which tariff am I on?", "but the letter says fixed", "so am I on fixed or not"]
    c = Conversation()
    turns = [
        t for text in texts for t in (c.customer(text, lost), c.other(events_pb2.ROLE_BOT, "..."))
    ]
    decisions = run(turns)
    assert [d for d in decisions if d is not None] == [decisions[4]]
    assert codes(decisions[4]) == {"confusion_loop"}
    assert decisions[4] is not None and "last 3 messages all read confused" in (
        decisions[4].reasons[0].explanation
    )
    # A turn that read clear between them starts the count again.
    c = Conversation()
    clear = {"confusion": 0.1, "negativity": 0.1}
    calm_between = [
        c.customer(texts[0], lost),
        c.customer("ah ok", clear),
        c.customer(texts[2], lost),
    ]
    assert run(calm_between) == [None, None, None]


def test_explicit_request_escalates_even_when_calm() -> None:
    c = Conversation()
    decision = run([c.customer("can I talk to a human please")])[0]
    assert codes(decision) == {"explicit_request"}
    assert decision is not None and decision.priority == E.PRIORITY_NORMAL
    assert decision.queue == "general"
    c = Conversation()
    assert run([c.customer("the agent said it would arrive today")]) == [None]


@pytest.mark.parametrize(
    ("text", "signals", "priority"),
    [
        # A death goes to a person even told calmly (the default signals).
        ("my husband passed away and I need to close his account", None, E.PRIORITY_HIGH),
        (
            "I don't feel safe, he is threatening me",
            {"negativity": 0.4, "distress": 0.4},
            E.PRIORITY_URGENT,
        ),
    ],
)
def test_sensitive_topics_go_to_specialist_care(
    text: str, signals: dict[str, float] | None, priority: int
) -> None:
    decision = run([Conversation().customer(text, signals)])[0]
    assert codes(decision) == {"sensitive_topic"}
    assert decision is not None and decision.queue == "specialist_care"
    assert decision.priority == priority


def test_no_sensitive_topic_in_ordinary_text() -> None:
    assert run([Conversation().customer("my phone died, can you check my plan")]) == [None]


def test_abuse_goes_to_supervisor_with_masked_text() -> None:
    decision = run([Conversation().customer("you useless idiot bot")])[0]
    assert codes(decision) == {"abuse"}
    assert decision is not None and decision.queue == "supervisor"
    assert decision.abusive is True
    assert decision.last_customer_text == "you u****** i**** bot"
    assert run([Conversation().customer("I feel stupid, I forgot my pin")]) == [None]


def test_repeat_contact_supports_but_never_triggers() -> None:
    history = CustomerHistory(escalations=[(T0 - timedelta(days=3)).timestamp()])
    calm = run([Conversation().customer("hello again")], history=history)
    assert calm == [None]
    decision = run([Conversation().customer("talk to a human")], history=history)[0]
    assert codes(decision) == {"explicit_request", "repeat_contact"}
    assert decision is not None and decision.priority == E.PRIORITY_HIGH
    assert decision.customer_history.escalations_in_window == 1
    assert decision.customer_history.window_days == 30
    # Escalations outside the window do not count.
    old = CustomerHistory(escalations=[(T0 - timedelta(days=45)).timestamp()])
    assert codes(run([Conversation().customer("talk to a human")], history=old)[0]) == {
        "explicit_request"
    }


def test_escalation_is_recorded_in_history_and_false_alarms_dampen() -> None:
    history = CustomerHistory()
    run([Conversation().customer("talk to a human")], history=history)
    assert len(history.escalations) == 1
    quiet = CustomerHistory(false_alarms=[T0.timestamp()] * 2)
    c = Conversation()
    mild = negative(0.5)
    decision = run([c.customer("a", mild), c.customer("b", mild)], history=quiet)[1]
    assert decision is not None and decision.priority == E.PRIORITY_LOW


def test_a_conversation_is_not_its_own_repeat_contact() -> None:
    history = CustomerHistory()
    c = Conversation()
    decisions = run(
        [c.customer("I want to talk to a human"), c.customer("my mother died last week")],
        history=history,
    )
    escalate, update = decisions
    assert escalate is not None and update is not None
    assert update.action == E.DECISION_ACTION_UPDATE
    assert "repeat_contact" not in codes(update)
    assert update.customer_history.escalations_in_window == 0
    # A later conversation of the same customer is a repeat contact.
    later = Conversation()
    [again] = run([later.customer("get me an agent please")], history=history)
    assert "repeat_contact" in codes(again)


def test_tier_raises_priority() -> None:
    vip = Conversation(tier=events_pb2.CUSTOMER_TIER_VIP)
    decision = run([vip.customer("talk to a human")])[0]
    assert decision is not None and decision.priority == E.PRIORITY_HIGH
    assert decision.customer_tier == events_pb2.CUSTOMER_TIER_VIP


def test_keyword_routing() -> None:
    decision = run([Conversation().customer("I was overcharged on my bill, get me a person")])[0]
    assert decision is not None and decision.queue == "billing"


def test_keywords_match_whatever_the_case_of_message_or_policy() -> None:
    routing = Routing(
        default_queue="general",
        topics={},
        reasons={},
        keywords={"retention": ["Cancel"], "technical": ["VPN", "not working"], "empty": []},
    )
    assert routing.keyword_queue("my vpn is NOT WORKING again") == "technical"
    assert routing.keyword_queue("CANCEL it. The VPN too.") == "retention"
    assert routing.keyword_queue("cancellation fees?") == ""  # whole words only
    assert routing.keyword_queue("hello") == ""
    no_keywords = Routing(default_queue="general", topics={}, reasons={}, keywords={})
    assert no_keywords.keyword_queue("cancel my VPN") == ""


def test_escalates_once_then_updates_only_on_priority_rise() -> None:
    c = Conversation()
    events = [
        c.customer("a", negative(0.9)),
        c.customer("b", negative(0.9)),  # ESCALATE, normal
        c.customer("c", negative(0.9)),  # still normal: nothing new
        c.customer("talk to a human"),  # explicit request is normal too: nothing
        c.customer("now!", {"anger": 0.95, "negativity": 0.9}),  # high: UPDATE
        c.customer("NOW!", {"anger": 0.95, "negativity": 0.9}),  # still high: nothing
    ]
    outcomes = run(events, ONLY_SUSTAINED)
    actions = [o.action if o else None for o in outcomes]
    assert actions == [None, E.DECISION_ACTION_ESCALATE, None, None, E.DECISION_ACTION_UPDATE, None]
    update = outcomes[4]
    assert update is not None and update.priority == E.PRIORITY_HIGH
    assert update.trigger_event_id == "e5"


def test_hysteresis_no_flapping_then_deescalate_and_cooldown() -> None:
    c = Conversation()
    rising = [c.customer("x", negative(0.9)), c.customer("x", negative(0.9))]
    # Oscillating around the threshold: neither a second escalation nor a de-escalation.
    wobble = [c.customer(f"w{i}", negative(0.3 if i % 2 == 0 else 0.8)) for i in range(8)]
    calm = [c.customer(f"calm {i}", negative(0.0)) for i in range(4)]
    again = [c.customer(f"again {i}", negative(0.9)) for i in range(3)]
    outcomes = run([*rising, *wobble, *calm, *again], ONLY_SUSTAINED)
    actions = [(i, o.action) for i, o in enumerate(outcomes) if o]
    escalate, deescalate = E.DECISION_ACTION_ESCALATE, E.DECISION_ACTION_DEESCALATE
    # The weighted negativity first dips under 0.3 at index 11, so the third calm
    # turn in a row is 13. Index 15 would re-escalate at the same priority inside
    # the cooldown; 16 is after it.
    assert actions == [(1, escalate), (13, deescalate), (16, escalate)]
    withdrawn = outcomes[13]
    assert withdrawn is not None and withdrawn.queue == "general" and not withdrawn.reasons


def test_sticky_reasons_block_deescalation() -> None:
    c = Conversation()
    events = [
        c.customer("I want a real person"),
        *[c.customer(f"ok {i}", negative(0.0)) for i in range(5)],
    ]
    outcomes = run(events)
    assert [o.action for o in outcomes if o] == [E.DECISION_ACTION_ESCALATE]


def test_resolved_on_end_only_when_escalated() -> None:
    c = Conversation()
    end = c.other(events_pb2.ROLE_SYSTEM, kind=events_pb2.EVENT_KIND_CONVERSATION_ENDED)
    outcomes = run([c.customer("talk to a human"), end, c.customer("talk to a human")])
    assert outcomes[1] is not None and outcomes[1].action == E.DECISION_ACTION_RESOLVED
    assert outcomes[1].queue == "general" and outcomes[1].priority == E.PRIORITY_NORMAL
    assert outcomes[2] is None
    c = Conversation()
    handoff = c.other(events_pb2.ROLE_SYSTEM, kind=events_pb2.EVENT_KIND_HANDOFF_COMPLETED)
    assert run([c.customer("hi"), handoff]) == [None, None]


def test_decision_ids_are_deterministic_across_runs() -> None:
    def conversation() -> list[scoring_pb2.ScoredEvent]:
        c = Conversation()
        return [c.customer("a", negative(0.9)), c.customer("talk to a human", negative(0.9))]

    first = [d.SerializeToString(deterministic=True) for d in run(conversation()) if d]
    second = [d.SerializeToString(deterministic=True) for d in run(conversation()) if d]
    assert first == second and len(first) == 1
    decision = Decision.FromString(first[0])
    assert decision.decision_id == derived_id("acme", "c1", "e2", DEFAULT.version)


def test_replayed_event_is_ignored() -> None:
    c = Conversation()
    event = c.customer("talk to a human")
    state = ConversationState()
    assert run([event], state=state)[0] is not None
    assert run([event], state=state) == [None]
    assert state.customer_turns == 1


def test_agent_messages_are_never_read() -> None:
    c = Conversation()
    state = ConversationState()
    agent = c.other(
        events_pb2.ROLE_AGENT, "you idiot, I'll get a real person, my mother passed away"
    )
    assert run([agent], state=state) == [None]
    assert not state.abuse_seen and not state.explicit_request and not state.sensitive_topics
    assert state.customer_turns == 0 and state.bot_turns == 0


def test_unscored_customer_turns_still_run_text_rules() -> None:
    c = Conversation()
    event = c.customer("talk to a human")
    event.scores.status = scoring_pb2.SCORE_STATUS_UNSUPPORTED_LANGUAGE
    state = ConversationState()
    assert codes(run([event], state=state)[0]) == {"explicit_request"}
    assert state.trajectory == [] and state.ewma_negativity == 0.0


def test_decision_payload() -> None:
    c = Conversation()
    labels = {"neutral": 0.95, "anger": 0.7, "annoyance": 0.6}
    events = [
        c.customer("this is taking forever", negative(0.9), labels),
        c.customer("still waiting", negative(0.9), labels),
    ]
    decision = run(events, ONLY_SUSTAINED)[1]
    assert decision is not None
    assert decision.dominant_emotion == "anger"
    assert [p.event_id for p in decision.trajectory] == ["e1", "e2"]
    assert decision.trajectory[0].occurred_at.ToDatetime() == (T0 + timedelta(seconds=1)).replace(
        tzinfo=None
    )
    assert decision.trajectory[1].signals.negativity == pytest.approx(0.9)
    assert decision.opening_line.startswith("I can hear how frustrating")
    assert decision.model_version == "m-test" and decision.policy_version == DEFAULT.version
    assert decision.channel == events_pb2.CHANNEL_CHAT
    assert decision.last_customer_text == "still waiting" and not decision.abusive
    timings = decision.timings
    assert (
        timings.occurred_at.ToDatetime()
        < timings.ingested_at.ToDatetime()
        < timings.scored_at.ToDatetime()
    )
    assert timings.decided_at.ToDatetime() == (T0 + timedelta(seconds=2)).replace(tzinfo=None)
    assert decision.shadow is False


def test_trajectory_keeps_last_eight_points() -> None:
    c = Conversation()
    state = ConversationState()
    run([c.customer(f"turn {i}") for i in range(12)], state=state)
    assert [p.event_id for p in state.trajectory] == [f"e{i}" for i in range(5, 13)]


def test_shadow_flag_comes_from_tenant_policy() -> None:
    policy = policy_with("\ntenants:\n  acme:\n    shadow: true\n")
    decision = run([Conversation().customer("talk to a human")], policy)[0]
    assert decision is not None and decision.shadow is True
    other = run([Conversation(tenant="globex").customer("talk to a human")], policy)[0]
    assert other is not None and other.shadow is False


def test_opening_line_by_reason_and_emotion_with_tenant_override() -> None:
    grief = {"grief": 0.8, "sadness": 0.6}
    text = "my mother passed away"
    decision = run([Conversation().customer(text, negative(0.3), grief)])[0]
    assert decision is not None
    assert decision.opening_line.startswith("I'm so sorry for your loss")
    fear = run([Conversation().customer(text, negative(0.3), {"fear": 0.9})])[0]
    assert fear is not None and fear.opening_line.startswith("I can hear this is worrying")
    policy = policy_with(
        "\ntenants:\n  acme:\n    opening_lines:\n      templates:\n"
        "        sensitive_topic: {grief: We are so sorry. Take all the time you need.}\n"
    )
    custom = run([Conversation().customer(text, negative(0.3), grief)], policy)[0]
    assert (
        custom is not None and custom.opening_line == "We are so sorry. Take all the time you need."
    )
    # The override replaced only that key; other emotions keep the default lines.
    fear = run([Conversation().customer(text, negative(0.3), {"fear": 0.9})], policy)[0]
    assert fear is not None and fear.opening_line.startswith("I can hear this is worrying")


def test_dominant_emotion_ignores_neutral() -> None:
    assert dominant_emotion({"neutral": 0.9, "joy": 0.2, "anger": 0.2}) == "anger"
    assert dominant_emotion({"neutral": 0.9}) == ""


def test_idle_keys_are_those_quiet_for_longer_than_the_ttl() -> None:
    last_activity = {
        "acme/busy": T0.timestamp(),
        "acme/idle": (T0 - timedelta(hours=3)).timestamp(),
        "acme/just-in-time": (T0 - timedelta(minutes=55)).timestamp(),
    }
    assert idle_keys(last_activity, T0 + timedelta(minutes=5), timedelta(hours=1)) == ["acme/idle"]


def test_state_round_trips_through_json() -> None:
    c = Conversation()
    state = ConversationState()
    run(
        [c.customer("my card was used for fraud", negative(0.6)), c.customer("talk to a human")],
        state=state,
    )
    restored = ConversationState.from_dict(json.loads(json.dumps(state.to_dict())))
    assert restored == state
    assert restored.sensitive_topics == {"fraud"}


def test_the_stored_table_entry_is_the_states_dict_with_its_sets_sorted() -> None:
    from warmline.decisioning.conversations import encode_entry

    c = Conversation()
    state = ConversationState()
    run([c.customer("fraud on my card, my lawyer will hear of it", negative(0.6))], state=state)
    assert state.sensitive_topics == {"fraud", "legal"}
    assert json.loads(encode_entry(state)) == {"state": state.to_dict()}
    assert json.loads(encode_entry(state))["state"]["sensitive_topics"] == ["fraud", "legal"]


def test_history_prunes_outside_the_window() -> None:
    now = T0.timestamp()
    history = CustomerHistory(
        escalations=[now - 40 * 86400, now - 86400], false_alarms=[now - 31 * 86400]
    )
    assert history.counts(now, 30) == (1, 0)
    history.prune(now, 30)
    assert history == CustomerHistory(escalations=[now - 86400], false_alarms=[])


def test_a_restored_state_decides_exactly_like_the_live_one_and_its_entry_stays_small() -> None:
    # The worker rewrites a conversation's entry to the changelog on every event,
    # and a restarted worker decides from the decoded entry: same bytes out.
    from warmline.decisioning.conversations import decode_entry, encode_entry

    c = Conversation()
    turns = [
        c.customer(f"turn {i}: is parcel {1000 + i} on its way?", negative(0.1 + i / 100))
        for i in range(19)
    ]
    live = ConversationState()
    assert run(turns, state=live) == [None] * 19
    restored = decode_entry(encode_entry(live))
    assert restored == live
    last = c.customer("let me talk to a human", negative(0.29))
    now = T0 + timedelta(minutes=5)
    from_live = apply_event(live, last, DEFAULT, now)
    from_restored = apply_event(restored, last, DEFAULT, now)
    assert from_live is not None and from_live.action == E.DECISION_ACTION_ESCALATE
    assert from_restored is not None
    assert from_restored.SerializeToString() == from_live.SerializeToString()
    # Float32 noise digits and zero signals are not stored: eight turns of
    # trajectory with seven signals each, and the rest, in under 2 KB here.
    assert len(encode_entry(live)) < 2048
    assert from_live.trajectory[-1].signals.negativity == pytest.approx(0.29, abs=1e-6)
    assert from_live.trajectory[-1].signals.gratitude == 0.0
