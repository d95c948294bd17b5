"""Feedback on a practice opening: explicit checks of the reply's content."""

from __future__ import annotations

import json

from tests.openapi_contract import METHODS
from warmline.common.openapi import full_document, service_document
from warmline.practice.checks import CHECKS, review_reply


def passed(reply: str) -> dict[str, bool]:
    return {c.name: c.passed for c in review_reply(reply)}


def test_a_warm_owned_open_reply_passes_every_check() -> None:
    checks = review_reply(
        "I'm sorry, I can hear how frustrating this has been. Let me look into your order "
        "now. Could you tell me when it was due?"
    )
    assert [c.name for c in checks] == list(CHECKS)
    assert all(c.passed for c in checks)
    assert checks[0].note == "'I'm sorry'"
    assert checks[4].note == "'Could you'"


def test_blame_and_promises_that_may_not_hold_are_named() -> None:
    checks = {
        c.name: c
        for c in review_reply("You should have read the email. I guarantee it arrives by tomorrow.")
    }
    assert not checks["avoids_blame"].passed
    assert "'You should have'" in checks["avoids_blame"].note
    assert not checks["promises_only_what_it_can_keep"].passed
    assert "guarantee" in checks["promises_only_what_it_can_keep"].note


def test_a_curt_reply_is_told_what_would_help() -> None:
    checks = review_reply("Order status: shipped.")
    assert passed("Order status: shipped.") == {
        "acknowledges_emotion": False,
        "takes_ownership": False,
        "avoids_blame": True,
        "promises_only_what_it_can_keep": True,
        "invites_next_step": False,
    }
    assert "I can hear how frustrating" in checks[0].note
    assert "Let me look into this" in checks[1].note


def test_curly_apostrophes_read_like_straight_ones() -> None:
    assert passed("I\u2019ll sort this out, I\u2019m sorry.")["takes_ownership"]


def test_results_are_answered_to_the_review_call_and_no_other_route() -> None:
    # No route of any service, the supervisors' audit included, answers with a review.
    review = json.dumps("#/components/schemas/PracticeReview")
    answering = [
        (method, path)
        for path, item in full_document()["paths"].items()
        for method in METHODS
        if review in json.dumps(item.get(method, {}).get("responses", {}))
    ]
    assert answering == [("post", "/v1/practice/review")]
    assert not [p for p in service_document("notification")["paths"] if "practice" in p]
