"""The cheap English detector."""

from __future__ import annotations

import pytest

from warmline.model.language import detect, is_supported

ENGLISH = [
    "I have been waiting on hold for two hours and nobody helps me",
    "Thanks so much, that fixed it!",
    "The agent was rude and I want a refund",
    "Why was I charged twice for the same order?",
    "I love Paris, la vie en rose",  # English with a French phrase
    "Oh la la",
    "lol",
    "ok",
    "thx!!",
    "😡😡😡",
    "🙏",
    "12345 !!!",
    "",
    "[NAME] is the best, no cap",
    "https://example.com/orders/123",
    "The café was lovely and the crème brûlée was perfect, thank you",
    "Naïve question: where is my résumé?",
]

FOREIGN = [
    ("Hola, necesito ayuda con mi pedido, no ha llegado todavía", "es"),
    ("Este producto es una basura", "es"),
    ("Ich habe mein Paket noch nicht bekommen und bin sehr verärgert", "de"),
    ("Danke, das hat geholfen", "de"),
    ("Bonjour, je n'ai pas reçu ma commande et je suis très déçu", "fr"),
    ("Obrigado pela ajuda, o pedido chegou", "pt"),
    ("Grazie mille per il vostro aiuto", "it"),
    ("Ik heb mijn pakket nog niet ontvangen", "nl"),
    ("我的订单还没有到", "cjk"),
    ("注文がまだ届いていません", "cjk"),
    ("주문이 아직 도착하지 않았습니다", "hangul"),
    ("Мой заказ не пришел", "cyrillic"),
    ("لم يصل طلبي بعد", "arabic"),
]


@pytest.mark.parametrize("text", ENGLISH)
def test_english_and_short_texts_are_supported(text: str) -> None:
    assert detect(text).language == "en"
    assert is_supported(text)


@pytest.mark.parametrize(("text", "language"), FOREIGN)
def test_obvious_non_english_is_unsupported(text: str, language: str) -> None:
    guess = detect(text)
    assert not guess.supported
    assert guess.language == language


def test_short_non_latin_text_is_still_caught() -> None:
    assert not is_supported("谢谢")
    assert not is_supported("да")
