"""Splitting a decoded window back into its clips, in clip time."""

from __future__ import annotations

from .decoded import DecodedSegment, DecodedWord, words_text
from .windows import Piece, Placement, Window


def split_window(window: Window, segments: list[DecodedSegment]) -> list[tuple[Piece, DecodedSegment]]:
    """``(piece, segment in clip time)`` for each decoded segment of ``window``.

    A segment with words is cut wherever consecutive words fall into different pieces (by the word's
    midpoint), so text the decoder ran across a gap still lands in the right clips; such parts are
    marked ``crossed_pieces`` (and ``uncertain_split`` when a word sits in the silence between pieces).
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
        for w in seg.words:
            pl = window.locate((w.start + w.end) / 2)
            if runs and runs[-1][0] is pl:
                runs[-1][1].append(w)
            else:
                runs.append((pl, [w]))
        crossed = len({id(pl) for pl, _ in runs}) > 1
        uncertain = crossed and any(not any(p.offset <= (w.start + w.end) / 2 <= p.window_end
                                            for p in window.placements) for w in seg.words)
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
