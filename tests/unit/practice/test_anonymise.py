"""The practice anonymiser: consistent within a scenario, placeholders kept."""

from __future__ import annotations

import pytest

from warmline.practice.anonymise import anonymise


def test_a_name_is_the_same_person_in_every_turn_even_where_it_opens_a_sentence() -> None:
    said = anonymise(["Hi, I'm Anna.", "Anna here again, is Ben there?", "Thanks Anna and Ben."])
    assert said == ["Hi, I'm Person A.", "Person A here again, is Person B there?",
                    "Thanks Person A and Person B."]  # fmt: skip


def test_each_word_of_a_full_name_stands_for_the_same_person() -> None:
    assert anonymise(["This is Anna Berg.", "Berg is my surname, Anna my name."]) == [
        "This is Person A.",
        "Person A is my surname, Person A my name.",
    ]


def test_places_follow_their_cue_words_and_titles_keep_their_names() -> None:
    assert anonymise(["I moved from New York to a flat in Leeds; Dr. Patel knows."]) == [
        "I moved from Place A to a flat in Place B; Dr. Person A knows."
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Due on 3 March 2026, or March 3rd, or 03/12/2026.", "Due on Date 1, or Date 2, or Date 3."),
        ("Order AB-12345, ticket #778, account 12345678.", "Order Reference 1, ticket Reference 2, account Reference 3."),
        ("I paid 45.50 twice, 2 times.", "I paid Number 1 twice, Number 2 times."),
    ],
)  # fmt: skip
def test_dates_references_and_numbers_are_numbered(text: str, expected: str) -> None:
    assert anonymise([text]) == [expected]


def test_the_same_value_gets_the_same_label_across_turns() -> None:
    assert anonymise(["Order AB-12345 for 45.50", "AB-12345 again, 45.50 again, 12.00 new"]) == [
        "Order Reference 1 for Number 1",
        "Reference 1 again, Number 1 again, Number 2 new",
    ]


def test_redaction_placeholders_and_ordinary_words_are_left_alone() -> None:
    text = "Hello, my email is [EMAIL] and phone [PHONE]. On Monday I said Yes. OK?"
    assert anonymise([text]) == [text]


def test_a_name_only_ever_opening_a_sentence_is_not_found() -> None:
    # Documented as not promised: no cue that it is a name.
    assert anonymise(["Anna here."]) == ["Anna here."]
