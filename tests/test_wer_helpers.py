"""The WER helpers used by evaluation (text normaliser, edit distance, pooled WER)."""

from __future__ import annotations

import pytest

from uas_pipeline.evaluation import edit_distance, normalize_text, pooled_wer

# --- evaluation helpers ----------------------------------------------------------------------------


def test_normalize_text() -> None:
    assert normalize_text("Hello, World!") == "hello world"
    assert normalize_text("  It’s   a  'quoted'  test...  ") == "it's a quoted test"
    assert normalize_text("don't -- stop; rock'n'roll") == "do not stop rock'n'roll"  # contractions expanded
    assert normalize_text("Café AU lait") == "café au lait"
    assert normalize_text("?!. ,") == ""
    assert normalize_text("'''") == ""


def _w(text: str) -> list[str]:
    return text.split()


def test_edit_distance() -> None:
    assert edit_distance([], []) == 0
    assert edit_distance(["a", "b"], []) == 2
    assert edit_distance([], ["a"]) == 1
    assert edit_distance(_w("a b c"), _w("a b c")) == 0
    assert edit_distance(_w("a b c"), _w("a x c")) == 1  # substitution
    assert edit_distance(_w("a b c d"), _w("a c d")) == 1  # deletion
    assert edit_distance(_w("a b"), _w("a b c")) == 1  # insertion
    assert edit_distance(_w("the cat sat"), _w("sat the cat")) == 2
    assert edit_distance(list("kitten"), list("sitting")) == 3


def test_pooled_wer() -> None:
    pairs = [("The cat sat.", "the cat sat"), ("a b c d", "a x d"), ("Hello there", "hello there friend")]
    # errors 0 + 2 + 1 over 3 + 4 + 2 reference words: pooled, not the mean of per-clip WERs
    assert pooled_wer(pairs) == pytest.approx(3 / 9)
    assert pooled_wer([("one two", "")]) == 1.0
    assert pooled_wer([("", "noise"), ("a b", "a b")]) == 0.5  # insertions against an empty reference count
    assert pooled_wer(iter([("x", "x")])) == 0.0  # any iterable


@pytest.mark.parametrize("pairs", [[], [("", "")], [("", "something")], [("...", "x")]])
def test_pooled_wer_empty_references(pairs: list[tuple[str, str]]) -> None:
    with pytest.raises(ValueError, match="no reference words"):
        pooled_wer(pairs)
