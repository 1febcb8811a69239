"""Splitting a decoded window back into its clips, in clip time."""

from __future__ import annotations

from .decoded import DecodedSegment, DecodedWord, words_text
from .windows import Piece, Placement, Window


def _word_homes(words: tuple[DecodedWord, ...], window: Window) -> tuple[list[Placement], bool]:
    """The placement of each word of a segment, and whether that was a guess.

    A word whose time overlaps the audio of exactly one piece belongs to it. The aligner stretches
    words across pauses (the first word after a pause back to the end of the previous speech, the last
    word before one into the silence), so a word overlapping several pieces, or none, goes with its
    neighbours in the segment: the nearest unambiguous word before or after it. Between neighbours
    of two different pieces it takes the one whose audio it overlaps (else the earlier), and the split
    is marked a guess (the pieces are then decoded again alone)."""
    overlapped = [[pl for pl in window.placements if min(w.end, pl.window_end) - max(w.start, pl.offset) > 0]
                  for w in words]
    clean = [o[0] if len(o) == 1 else None for o in overlapped]
    homes: list[Placement] = []
    guessed = False
    for k, w in enumerate(words):
        if clean[k] is not None:
            homes.append(clean[k])
            continue
        before = next((clean[j] for j in range(k - 1, -1, -1) if clean[j] is not None), None)
        after = next((clean[j] for j in range(k + 1, len(words)) if clean[j] is not None), None)
        if before is not None and after is not None and before is not after:
            guessed = True
            homes.append(after if after in overlapped[k] and before not in overlapped[k] else before)
        else:
            homes.append(before or after or window.locate((w.start + w.end) / 2))
    return homes, guessed


def _single_piece(span: tuple[float, float] | None, window: Window) -> Placement | None:
    """The placement holding the whole decoder span, or None (no span, or it crosses a gap's middle)."""
    if span is None:
        return None
    first, last = window.locate(span[0] + 0.01), window.locate(max(span[0], span[1] - 0.01))
    return first if first is last else None


def split_window(window: Window, segments: list[DecodedSegment]) -> list[tuple[Piece, DecodedSegment]]:
    """``(piece, segment in clip time)`` for each decoded segment of ``window``.

    A segment whose own timestamps (the decoder's, ``token_span``) lie in one piece goes whole to that
    piece: the last word before a silence is often timed into it by the aligner, and the decoder's
    timestamps are the better guide there. A segment the decoder ran across a gap is cut wherever
    consecutive words fall into different pieces (see :func:`_word_homes`); such parts are marked
    ``crossed_pieces`` (and ``uncertain_split`` when words timed in the silence sat between two pieces).
    A segment without words goes whole to the piece holding its midpoint.
    Times are clamped to the piece: the silence between pieces belongs to no clip.
    """
    n = len(window.placements)
    out: list[tuple[Piece, DecodedSegment]] = []
    for seg in segments:
        if not seg.words:
            pl = window.locate((seg.start + seg.end) / 2)
            start, end = pl.to_clip(seg.start), pl.to_clip(seg.end)
            out.append((pl.piece, seg.shifted(start=start, end=end, pieces_in_window=n)))
            continue
        runs: list[tuple[Placement, list[DecodedWord]]] = []
        home = _single_piece(seg.token_span, window)
        homes, guessed = ([home] * len(seg.words), False) if home else _word_homes(seg.words, window)
        for w, pl in zip(seg.words, homes, strict=True):
            if runs and runs[-1][0] is pl:
                runs[-1][1].append(w)
            else:
                runs.append((pl, [w]))
        crossed = len({id(pl) for pl, _ in runs}) > 1
        uncertain = crossed and guessed
        for pl, words in runs:
            moved = tuple(DecodedWord(w.text, pl.to_clip(w.start), pl.to_clip(w.end), w.probability)
                          for w in words)
            if crossed:
                start, end, text = moved[0].start, moved[-1].end, words_text(moved)
            else:
                start, end, text = pl.to_clip(seg.start), pl.to_clip(seg.end), seg.text
            out.append((pl.piece, seg.shifted(start=min(start, moved[0].start), end=max(end, moved[-1].end),
                                                   text=text, words=moved, pieces_in_window=n,
                                                   crossed_pieces=crossed, uncertain_split=uncertain)))
    return out
