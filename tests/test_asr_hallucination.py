"""Hallucination rules: each rejects what it is meant to, with its reason, and keeps real speech."""

from __future__ import annotations

import pytest

from uas_pipeline.asr.decoded import DecodedSegment, DecodedWord
from uas_pipeline.asr.hallucination import STOCK_PHRASE, HallucinationRules, find_loop, judge, normalize_text

RULES = HallucinationRules()


def seg(text: str, start: float = 0.0, end: float | None = None, prob: float = 0.9, **kw) -> DecodedSegment:
    words = text.split()
    end = end if end is not None else start + 0.4 * len(words)
    step = (end - start) / len(words)
    ws = tuple(DecodedWord(" " + w, start + k * step, start + (k + 1) * step, prob) for k, w in enumerate(words))
    return DecodedSegment(start, end, text, ws, avg_logprob=-0.3, no_speech_prob=0.1, **kw)


@pytest.mark.parametrize(("text", "stock"), [
    ("Thank you for watching.", True),
    ("Thank you so much for watching and see you in the next video!", True),
    ("Thanks for watching, and don't forget to subscribe!", True),
    ("Subtitles by the Amara.org community", True),
    ("you", True),
    ("Thank you very much for your help.", False),
    ("Thank you for coming to the meeting.", False),
    ("See you in the garden at noon.", False),
])
def test_stock_phrase_grammar(text: str, stock: bool) -> None:
    assert bool(STOCK_PHRASE.match(normalize_text(text))) is stock


def test_stock_phrase_needs_a_second_sign() -> None:
    speech = [(0.0, 2.0)]
    real = seg("Thank you.", 0.5, 1.2, prob=0.9)
    assert judge([real], speech, RULES).kept == [real]  # spoken clearly, inside speech
    low = seg("Thank you for watching.", 1.8, 1.9, prob=0.3)
    assert judge([low], None, RULES).rejected == [(low, "stock_phrase")]  # low confidence
    confident_outside = seg("Thank you.", 2.1, 3.0, prob=0.9)
    assert judge([confident_outside], [(0.0, 2.3)], RULES).rejected[0][1] == "stock_phrase"  # mostly after speech
    too_fast = seg("Thank you for watching.", 1.0, 1.1, prob=0.9)
    assert judge([too_fast], None, RULES).rejected[0][1] == "stock_phrase"  # 4 words in 0.1 s


def test_repetition_loop_keeps_the_first_copy_and_the_words_after() -> None:
    looped = seg("and the rest of the rest of the rest of the rest of the rest", 10.0, 16.0)
    judged = judge([looped], None, RULES)
    assert [s.text for s in judged.kept] == ["and the rest of"]
    (rejected, reason), = judged.rejected
    assert reason == "repetition" and rejected.text == "the rest of the rest of the rest of the rest"
    assert judged.kept[0].end <= rejected.start
    def words(text: str) -> list[str]:
        return normalize_text(text).split()

    assert find_loop(words("no, no, no"), 2.0, 6, 12) is None
    assert find_loop(words("I said no, I said no"), 2.0, 6, 12) is None
    tail = words("and I will see you in the next video, and I will see you in the next video")
    assert find_loop(tail, 2.0, 6, 12) == (9, 18)


def test_compression_ratio_no_speech_and_outside_speech() -> None:
    repetitive = seg("la" * 200, 0.0, 5.0)
    assert judge([repetitive], None, RULES).rejected[0][1] == "compression_ratio"
    silent = seg("Okay so", 0.0, 1.0).shifted(no_speech_prob=0.9, avg_logprob=-1.5)
    assert judge([silent], None, RULES).rejected[0][1] == "no_speech"
    # in a packed window the no-speech probability describes the whole window: not used
    assert judge([silent.shifted(pieces_in_window=3)], None, RULES).kept
    far = seg("Hello there", 8.0, 9.0)
    assert judge([far], [(0.0, 3.0)], RULES).rejected[0][1] == "outside_speech"
    assert judge([far], None, RULES).kept == [far]  # without VAD nothing is outside speech


def test_rules_keep_ordinary_speech_and_none_rejects_nothing() -> None:
    lines = ["The child almost hurt the small dog.", "Drop the two when you add the figures.",
             "One, two, three, four, five, six, seven, eight, nine, ten.", "Yes, yes, I know."]
    segments = [seg(t, 3.0 * k, 3.0 * k + 2.5) for k, t in enumerate(lines)]
    assert judge(segments, [(0.0, 12.0)], RULES).kept == segments
    bad = [seg("Thank you for watching.", 0.0, 0.1, prob=0.1), seg("la" * 200, 1.0, 5.0)]
    assert judge(bad, None, HallucinationRules.none()).kept == bad
