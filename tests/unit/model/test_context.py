"""Customer turns read with the conversation before them (ContextualScorer)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from warmline.model import context as context_module
from warmline.model.context import ContextualScorer, ConversationWindows
from warmline.model.engine import EmotionEngine
from warmline.model.readout import Readout
from warmline.model.results import Status
from warmline.model.turn_features import Array
from warmline.model.turns import Speaker, Turn


@pytest.fixture(scope="module")
def engine() -> EmotionEngine:
    return EmotionEngine(threads=1, backend="torch")


def _conversation(key: str) -> list[Turn]:
    return [
        Turn("How do I reset my router?", Speaker.CUSTOMER, key),
        Turn("Please visit our help centre for router guides.", Speaker.OTHER, key),
        Turn("How do I reset the router? I asked already.", Speaker.CUSTOMER, key),
        Turn("Please visit our help centre for router guides.", Speaker.OTHER, key),
    ]


def test_a_repeated_question_is_read_as_a_repeat_with_the_turns_before_it(
    engine: EmotionEngine,
) -> None:
    first, bot, again, bot_again = ContextualScorer(engine).score(_conversation("t/c1"))
    assert first.context_turns == 0 and first.repeat_similarity == 0.0
    assert again.context_turns == 2
    assert again.repeat_similarity > 0.8
    assert bot.result is None and bot_again.result is None  # bot turns are never scored
    assert bot_again.repeat_similarity > 0.99  # the bot said the same thing again
    assert again.result is not None and again.result.status is Status.SCORED


def test_context_changes_the_reading_of_the_same_words(engine: EmotionEngine) -> None:
    scorer = ContextualScorer(engine)
    in_context = scorer.score(_conversation("t/c2"))[2]
    alone = scorer.score([Turn("How do I reset the router? I asked already.")])[0]
    assert alone.context_turns == 0
    assert in_context.result is not None and alone.result is not None
    assert in_context.result.signals != alone.result.signals


def test_turns_of_one_batch_see_each_other_in_order(engine: EmotionEngine) -> None:
    together = ContextualScorer(engine).score(_conversation("t/c3"))
    one_by_one_scorer = ContextualScorer(engine)
    one_by_one = [one_by_one_scorer.score([turn])[0] for turn in _conversation("t/c3")]
    assert [s.context_turns for s in together] == [s.context_turns for s in one_by_one]
    for a, b in zip(together, one_by_one, strict=True):
        assert a.repeat_similarity == pytest.approx(b.repeat_similarity, abs=1e-4)


def test_conversations_never_share_context(engine: EmotionEngine) -> None:
    scorer = ContextualScorer(engine)
    scorer.score(_conversation("tenant-a/c"))
    (other,) = scorer.score([Turn("How do I reset my router?", Speaker.CUSTOMER, "tenant-b/c")])
    assert other.context_turns == 0 and other.repeat_similarity == 0.0


def test_windows_evict_the_least_recently_used_and_idle_conversations(
    engine: EmotionEngine,
) -> None:
    now = [0.0]
    windows = ConversationWindows(max_conversations=2, idle_seconds=60, clock=lambda: now[0])
    scorer = ContextualScorer(engine, windows)
    for key in ("a", "b", "c"):
        scorer.score([Turn("Where is my parcel?", Speaker.CUSTOMER, key)])
    assert len(windows) == 2
    (evicted,) = scorer.score([Turn("Any news?", Speaker.CUSTOMER, "a")])
    assert evicted.context_turns == 0
    now[0] = 120.0
    (idle,) = scorer.score([Turn("Any news?", Speaker.CUSTOMER, "c")])
    assert idle.context_turns == 0


def test_zero_conversations_reads_every_turn_alone(engine: EmotionEngine) -> None:
    scorer = ContextualScorer(engine, ConversationWindows(max_conversations=0))
    scores = scorer.score(_conversation("t/c4"))
    assert [s.context_turns for s in scores] == [0, 0, 0, 0]


def test_empty_and_foreign_customer_turns_are_not_scored_and_leave_no_context(
    engine: EmotionEngine,
) -> None:
    scorer = ContextualScorer(engine)
    empty, foreign, real = scorer.score(
        [
            Turn("   ", Speaker.CUSTOMER, "t/c5"),
            Turn("Ich habe mein Paket noch nicht bekommen, danke", Speaker.CUSTOMER, "t/c5"),
            Turn("Where is my parcel?", Speaker.CUSTOMER, "t/c5"),
        ]
    )
    assert empty.result is not None and empty.result.status is Status.EMPTY
    assert foreign.result is not None and foreign.result.status is Status.UNSUPPORTED_LANGUAGE
    assert real.context_turns == 0


def test_an_ended_conversation_is_forgotten(engine: EmotionEngine) -> None:
    scorer = ContextualScorer(engine)
    scorer.score(_conversation("t/c6"))
    ended, after = scorer.score(
        [Turn("", Speaker.END, "t/c6"), Turn("Where is my parcel?", Speaker.CUSTOMER, "t/c6")]
    )
    assert ended.result is None
    assert after.context_turns == 0
    assert len(scorer.windows) == 1  # only the new turn's window


class _Counting:
    """The engine, with the texts each of its two doors was asked to read."""

    def __init__(self, engine: EmotionEngine) -> None:
        self.engine = engine
        self.encoded: list[str] = []
        self.other: list[str] = []

    @property
    def readout(self) -> Readout:
        return self.engine.readout

    def encode(self, texts: Sequence[str]) -> Array:
        self.encoded += texts
        return self.engine.encode(texts)

    def encode_other(self, texts: Sequence[str]) -> Array:
        self.other += texts
        return self.engine.encode_other(texts)


def test_bot_turns_are_read_without_the_encoder_and_a_canned_answer_once(
    engine: EmotionEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    paired: list[str] = []
    real_pairs = context_module.word_pairs

    def counting_pairs(text: str) -> context_module.Pairs:
        paired.append(text)
        return real_pairs(text)

    monkeypatch.setattr(context_module, "word_pairs", counting_pairs)
    counting = _Counting(engine)
    scorer = ContextualScorer(counting)
    scores = scorer.score(_conversation("t/c7")) + scorer.score(_conversation("t/c8"))
    customers = [t.text for t in _conversation("t/c7") if t.speaker is Speaker.CUSTOMER]
    assert counting.encoded == customers * 2  # the encoder reads customers only
    assert counting.other == ["Please visit our help centre for router guides."]
    assert paired == counting.other  # its word pairs too are read once
    assert scores[6].context_turns == 2  # the second conversation still sees its bot turn
    assert scores[7].repeat_similarity == 1.0  # the cached pairs say it was said again


def test_the_same_bot_answer_with_a_sentence_added_is_a_repeat(engine: EmotionEngine) -> None:
    key = "t/c-added"
    answer = "Your monthly payment is 52.40, collected by direct debit."
    turns = [
        Turn("When does my insurance come out this month?", Speaker.CUSTOMER, key),
        Turn(answer, Speaker.OTHER, key),
        Turn("yes but on what date", Speaker.CUSTOMER, key),
        Turn(answer + " You can change your bank details online.", Speaker.OTHER, key),
        Turn("the DATE please", Speaker.CUSTOMER, key),
        Turn("It is collected on the 18th of each month.", Speaker.OTHER, key),
    ]
    scorer = ContextualScorer(engine)
    scores = scorer.score(turns[:4])
    assert scores[3].repeat_similarity == 1.0  # every word pair of the answer said again
    # what the heads read stays the vectors' cosine, as they were trained
    context, _ = scorer.windows.context(key)
    assert 0.0 < context.other_repeat < 0.99
    assert scorer.score(turns[4:])[1].repeat_similarity < 0.9  # a new answer is no repeat


def test_a_short_answer_inside_a_longer_one_is_no_repeat_by_its_words() -> None:
    from warmline.model.context import contained, word_pairs

    assert contained(word_pairs("Sure, thanks."), word_pairs("Sure, thanks. Anything else?")) == 0.0
    long = word_pairs("Please restart the router and wait two minutes.")
    assert (
        contained(
            long, word_pairs("Please restart the router and wait two minutes. Then try again.")
        )
        == 1.0
    )
    assert contained(long, word_pairs("Please check the cable.")) < 0.5
