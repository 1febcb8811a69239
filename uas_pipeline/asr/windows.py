"""Cutting clips into speech pieces and packing the pieces of several clips into 30 s decoding windows.

Whisper always encodes a 30 s window, so a 3 s clip decoded alone pays for 30 s of encoder work.
Here each clip's audio is reduced to *pieces* (its speech, from the VAD stage when it ran, padded;
otherwise the whole clip), pieces longer than a window are cut at their quietest moment, and the
pieces of consecutive clips are laid end to end into windows of at most ``window_s`` seconds with
``gap_s`` seconds of digital silence between them. Each window is decoded once; the decoded words are
split back to their pieces by time (a word belongs to the piece whose span, widened to the middle of
the neighbouring gaps, holds the word's midpoint) and moved to clip time.

Nothing here imports a model library: both ASR backends use it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

SAMPLE_RATE = 16000
WINDOW_S = 30.0
"""Whisper's input length."""


@dataclass(frozen=True)
class Piece:
    """A stretch ``[start, end)`` of one clip (seconds of clip time) to be transcribed."""

    clip: int
    """Index of the clip in the batch."""
    start: float
    end: float
    group: str | None = None
    """Pieces are only packed with pieces of the same group (the decoding language)."""
    index: int = 0
    """Position among the batch's pieces (kept when a piece is trimmed for a continuation)."""

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Placement:
    """Where a piece sits in its window: window time ``offset`` holds clip time ``piece.start``."""

    piece: Piece
    offset: float

    @property
    def window_end(self) -> float:
        return self.offset + self.piece.duration

    def to_clip(self, t: float) -> float:
        """Window time → clip time, clamped to the piece (gap silence belongs to no clip)."""
        return min(max(self.piece.start + (t - self.offset), self.piece.start), self.piece.end)


@dataclass
class Window:
    """Up to ``WINDOW_S`` seconds of pieces separated by silence, decoded as one input."""

    placements: list[Placement] = field(default_factory=list)
    group: str | None = None

    @property
    def duration(self) -> float:
        return self.placements[-1].window_end if self.placements else 0.0

    @property
    def clips(self) -> list[int]:
        return sorted({p.piece.clip for p in self.placements})

    def audio(self, clips: Sequence[np.ndarray], sample_rate: int = SAMPLE_RATE) -> np.ndarray:
        """The window's samples: each piece's audio at its offset, zeros elsewhere."""
        out = np.zeros(round(self.duration * sample_rate), dtype=np.float32)
        for pl in self.placements:
            src = clips[pl.piece.clip]
            a, b = round(pl.piece.start * sample_rate), round(pl.piece.end * sample_rate)
            chunk = src[a:b]
            o = round(pl.offset * sample_rate)
            n = min(len(chunk), len(out) - o)
            out[o:o + n] = chunk[:n]
        return out

    def locate(self, t: float) -> Placement:
        """The placement a window time belongs to: boundaries lie in the middle of the gaps."""
        for here, nxt in zip(self.placements, self.placements[1:], strict=False):
            if t < (here.window_end + nxt.offset) / 2:
                return here
        return self.placements[-1]


def merge_spans(spans: Iterable[tuple[float, float]], pad_s: float, join_gap_s: float,
                duration: float) -> list[tuple[float, float]]:
    """Pad speech spans by ``pad_s`` (within ``[0, duration]``) and join those less than
    ``join_gap_s`` apart, so a short pause stays inside one piece with its real audio."""
    merged: list[list[float]] = []
    for s, e in sorted(spans):
        s, e = max(0.0, s - pad_s), min(duration, e + pad_s)
        if e <= s:
            continue
        if merged and s - merged[-1][1] < join_gap_s:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    return [(s, e) for s, e in merged]


def quietest_cut(audio: np.ndarray, lo: float, hi: float, sample_rate: int = SAMPLE_RATE,
                 frame_s: float = 0.1) -> float:
    """The middle of the lowest-energy ``frame_s`` frame in ``[lo, hi]`` (seconds): where to cut a
    too-long stretch with the least chance of splitting a word."""
    a, b = int(lo * sample_rate), int(hi * sample_rate)
    hop = max(1, int(frame_s * sample_rate))
    seg = audio[a:b]
    n = len(seg) // hop
    if n < 2:
        return (lo + hi) / 2
    energy = np.square(seg[: n * hop].astype(np.float64)).reshape(n, hop).mean(axis=1)
    k = int(np.argmin(energy))
    return lo + (k + 0.5) * frame_s


def speech_pieces(clip: int, audio: np.ndarray, speech: Sequence[tuple[float, float]] | None, *,
                  max_piece_s: float = WINDOW_S, pad_s: float = 0.3, join_gap_s: float = 1.0,
                  group: str | None = None, sample_rate: int = SAMPLE_RATE) -> list[Piece]:
    """The pieces of one clip: its padded, joined speech spans (the whole clip when ``speech`` is
    None), each at most ``max_piece_s`` long (longer ones are cut at the quietest moment of their
    second half, repeatedly)."""
    duration = len(audio) / sample_rate
    spans = [(0.0, duration)] if speech is None else merge_spans(speech, pad_s, join_gap_s, duration)
    pieces: list[Piece] = []
    for start, end in spans:
        while end - start > max_piece_s:
            cut = quietest_cut(audio, start + max_piece_s / 2, start + max_piece_s, sample_rate)
            pieces.append(Piece(clip, round(start, 3), round(cut, 3), group))
            start = cut
        if end - start > 1e-3:
            pieces.append(Piece(clip, round(start, 3), round(end, 3), group))
    return pieces


def pack(pieces: Sequence[Piece], *, window_s: float = WINDOW_S, gap_s: float = 1.0,
         share: bool = True, apart: dict[int, set[int]] | None = None) -> list[Window]:
    """Lay pieces end to end into windows, ``gap_s`` of silence apart, one group per window: longest
    first, each into the first window with room (first-fit decreasing, so short pieces fill the room
    that long ones leave instead of opening windows) and holding none of the pieces ``apart`` names
    for it (piece index → indices). With ``share=False`` every piece gets its own window (per-clip
    decoding)."""
    apart = apart or {}
    by_group: dict[str | None, list[Piece]] = {}
    for p in pieces:
        by_group.setdefault(p.group, []).append(p)
    windows: list[Window] = []
    for group, members in by_group.items():
        if not share:
            windows += [Window(group=group, placements=[Placement(p, 0.0)]) for p in members]
            continue
        opened: list[Window] = []
        for piece in sorted(members, key=lambda p: -p.duration):
            avoid = apart.get(piece.index, set())
            room = next((w for w in opened if w.duration + gap_s + piece.duration <= window_s + 1e-6
                         and not any(pl.piece.index in avoid for pl in w.placements)), None)
            if room is None:
                opened.append(Window(group=group, placements=[Placement(piece, 0.0)]))
            else:
                room.placements.append(Placement(piece, round(room.duration + gap_s, 3)))
        windows += opened
    return windows
