"""The backend-neutral ASR machinery without a model: pieces, packing, timestamps, stitching, rounds."""

from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np
import pytest

from uas_pipeline.asr.decoded import DecodedSegment, DecodedWord
from uas_pipeline.asr.decoding import DecodeSettings
from uas_pipeline.asr.hallucination import HallucinationRules
from uas_pipeline.asr.stitch import split_window
from uas_pipeline.asr.tokens import split_by_timestamps
from uas_pipeline.asr.transcriber import ClipRequest, PackingSettings, copied_text, transcribe_clips
from uas_pipeline.asr.windows import Piece, Placement, Window, merge_spans, pack, quietest_cut, speech_pieces

from .asr_fake_backend import FakeBackend, tone_clip

SR = 16000
TB, EOT = 1010, 999


def test_merge_spans_pads_joins_and_clamps() -> None:
    assert merge_spans([(1.0, 2.0), (2.5, 3.0), (6.0, 7.0)], pad_s=0.3, join_gap_s=1.0, duration=7.1) == [
        (0.7, 3.3), (5.7, 7.1)]


def test_long_speech_is_cut_at_its_quietest_moment() -> None:
    audio = np.full(70 * SR, 0.1, dtype=np.float32)
    audio[int(22.0 * SR):int(22.2 * SR)] = 0.0  # a pause in the second half of the first 30 s
    assert quietest_cut(audio, 15.0, 30.0) == pytest.approx(22.05, abs=0.06)
    pieces = speech_pieces(3, audio, None, max_piece_s=30.0)
    assert all(p.duration <= 30.0 + 1e-6 and p.clip == 3 for p in pieces)
    assert pieces[0].end == pytest.approx(22.05, abs=0.06)
    assert pieces[0].start == 0.0 and pieces[-1].end == 70.0
    assert all(a.end == b.start for a, b in zip(pieces, pieces[1:], strict=False))


def test_pack_fills_windows_in_order_with_gaps_and_keeps_groups_apart() -> None:
    pieces = [Piece(i, 0.0, 4.0, group="en" if i != 2 else "de", index=i) for i in range(8)]
    windows = pack(pieces, window_s=30.0, gap_s=1.0)
    en = [w for w in windows if w.group == "en"]
    assert [len(w.placements) for w in en] == [6, 1]  # 6 * 4 s + 5 * 1 s = 29 s
    assert [pl.offset for pl in en[0].placements] == [0.0, 5.0, 10.0, 15.0, 20.0, 25.0]
    assert [pl.piece.clip for pl in en[0].placements] == [0, 1, 3, 4, 5, 6]
    assert [w.clips for w in windows if w.group == "de"] == [[2]]
    assert all(len(w.placements) == 1 for w in pack(pieces, share=False))


def _in_order(pieces: list[Piece], gap_s: float = 1.0) -> Window:
    """One window holding ``pieces`` in the given order, ``gap_s`` apart."""
    window = Window()
    for p in pieces:
        window.placements.append(Placement(p, round(window.duration + gap_s, 3) if window.placements else 0.0))
    return window


def test_pack_puts_short_pieces_into_the_room_long_ones_leave() -> None:
    lengths = [20.0, 15.0, 9.0, 10.0]
    pieces = [Piece(i, 0.0, d, index=i) for i, d in enumerate(lengths)]
    windows = pack(pieces, window_s=30.0, gap_s=1.0)
    # in order, one window after the other: 20 | 15 + 9 | 10; longest first, into the first with room: 2
    assert sorted(sorted(pl.piece.clip for pl in w.placements) for w in windows) == [[0, 2], [1, 3]]
    for w in windows:
        assert w.duration <= 30.0
        ends = [pl.offset + pl.piece.duration for pl in w.placements]
        assert all(b.offset == pytest.approx(e + 1.0) for e, b in zip(ends, w.placements[1:], strict=False))
    assert sorted(pl.piece.index for w in windows for pl in w.placements) == list(range(4))


def test_window_audio_places_pieces_and_locate_splits_gaps_in_the_middle() -> None:
    clips = [np.full(3 * SR, 0.1, np.float32), np.full(2 * SR, 0.2, np.float32)]
    (window,) = pack([Piece(0, 1.0, 3.0, index=0), Piece(1, 0.0, 2.0, index=1)], gap_s=1.0)
    audio = window.audio(clips)
    assert len(audio) == 5 * SR
    assert np.allclose(audio[: 2 * SR], 0.1) and np.allclose(audio[2 * SR:3 * SR], 0.0)
    assert np.allclose(audio[3 * SR:], 0.2)
    assert window.locate(2.4).piece.clip == 0 and window.locate(2.6).piece.clip == 1
    assert window.placements[0].to_clip(0.5) == 1.5
    assert window.placements[1].to_clip(2.5) == 0.0  # gap silence is clamped into the piece


@pytest.mark.parametrize(("tokens", "spans", "resume"), [
    ([TB, 1, 2, TB + 50], [(0.0, 1.0, (1, 2))], None),
    ([TB, 1, TB + 50, TB + 60, 3, TB + 80, EOT], [(0.0, 1.0, (1,)), (1.2, 1.6, (3,))], None),
    ([TB, 1, TB + 50, TB + 60], [(0.0, 1.0, (1,))], 1.2),  # opened a segment and stopped
    ([TB, 1, TB + 50, TB + 60, 3, 4], [(0.0, 1.0, (1,))], 1.2),  # unclosed text is dropped, resumed
    ([5, 6], [(0.0, 30.0, (5, 6))], None),  # no timestamps: the whole window
    ([TB, 1, EOT + 6, 2, TB + 50], [(0.0, 1.0, (1, 2))], None),  # a special token is not text
])
def test_split_by_timestamps(tokens, spans, resume) -> None:
    timed = split_by_timestamps(tokens, timestamp_begin=TB, eot=EOT, window_s=30.0)
    assert [(s.start, s.end, s.tokens) for s in timed.spans] == spans
    assert timed.resume_at == resume


def _seg(start, end, words, **kw) -> DecodedSegment:
    ws = tuple(DecodedWord(f" {t}", s, e, 0.9) for t, s, e in words)
    return DecodedSegment(start, end, "".join(w.text for w in ws).strip(), ws, **kw)


def test_split_window_cuts_a_segment_run_across_pieces_by_word_times() -> None:
    window = _in_order([Piece(0, 0.5, 2.5, index=0), Piece(1, 1.0, 4.0, index=1)])  # 2nd at 3.0
    seg = _seg(0.1, 5.5, [("hello", 0.1, 0.6), ("there", 0.7, 1.9), ("general", 3.2, 4.0), ("kenobi", 4.1, 5.5)])
    parts = split_window(window, [seg])
    assert [(p.clip, s.text) for p, s in parts] == [(0, "hello there"), (1, "general kenobi")]
    first, second = parts[0][1], parts[1][1]
    assert (first.start, first.end) == (0.6, 2.4) and first.crossed_pieces and not first.uncertain_split
    assert second.words[0].start == pytest.approx(1.2) and second.end == pytest.approx(3.5)
    in_gap = _seg(0.1, 4.0, [("one", 0.1, 1.0), ("two", 2.2, 2.7), ("three", 3.2, 4.0)])
    assert all(s.uncertain_split for _, s in split_window(window, [in_gap]))


def test_transcriber_packs_clips_and_returns_each_its_own_words() -> None:
    clips = [tone_clip(3.0, 10 + i) for i in range(9)]
    backend = FakeBackend()
    result = transcribe_clips(backend, [ClipRequest(a, None) for a in clips], DecodeSettings(batch_windows=4),
                              PackingSettings(), HallucinationRules())
    assert [c.segments[0].text for c in result.clips] == [f"a{10 + i}" for i in range(9)]
    for c in result.clips:
        (seg,) = c.segments
        assert seg.start == pytest.approx(0.5, abs=0.02) and seg.end == pytest.approx(2.5, abs=0.02)
        assert c.language is None and c.language_confidence is None  # English-only, nothing declared
    assert result.stats.decoded_windows == 2 and backend.encoded_windows == 2  # 7 + 2 clips, not 9 windows
    alone = transcribe_clips(FakeBackend(), [ClipRequest(a, None) for a in clips], DecodeSettings(),
                             PackingSettings(share_windows=False), HallucinationRules())
    assert alone.stats.decoded_windows == 9
    assert [c.segments[0].text for c in alone.clips] == [c.segments[0].text for c in result.clips]


class _MeetingBackend(FakeBackend):
    """Encodes only when ``parties`` calls are inside ``encode`` at once: batches decoded one at a time
    break the barrier (after ``timeout`` s) instead of waiting forever."""

    def __init__(self, parties: int, timeout: float) -> None:
        super().__init__()
        self.barrier = threading.Barrier(parties, timeout=timeout)
        self.threads: set[str] = set()

    def encode(self, audios):
        self.threads.add(threading.current_thread().name)
        self.barrier.wait()
        return super().encode(audios)


def test_parallel_batches_decode_at_once_and_keep_their_order() -> None:
    clips = [tone_clip(3.0, 10 + i) for i in range(8)]
    requests = [ClipRequest(a, None) for a in clips]
    settings = DecodeSettings(batch_windows=2)
    sequential = transcribe_clips(FakeBackend(), requests, settings, PackingSettings(share_windows=False),
                                  HallucinationRules())
    backend = _MeetingBackend(parties=2, timeout=30)  # generous: a loaded CI machine may start threads late
    parallel = transcribe_clips(backend, requests, replace(settings, parallel_batches=2),
                                PackingSettings(share_windows=False), HallucinationRules())
    # 8 windows in batches of 2: four batches, two at a time
    assert [c.segments for c in parallel.clips] == [c.segments for c in sequential.clips]
    assert parallel.stats.decoded_windows == sequential.stats.decoded_windows == 8
    assert len(backend.threads) == 2 and all(t.startswith("asr-decode") for t in backend.threads)
    with pytest.raises(threading.BrokenBarrierError):
        transcribe_clips(_MeetingBackend(parties=2, timeout=1), requests[:2], settings, PackingSettings(share_windows=False),
                         HallucinationRules())


def test_pieces_the_decoder_left_or_jumped_over_are_decoded_again() -> None:
    clips = [tone_clip(3.0, 10 + i) for i in range(6)]
    backend = FakeBackend(defer_after_s=12.0, skip=[11])  # leaves what starts after 12 s; never hears clip 1
    result = transcribe_clips(backend, [ClipRequest(a, None) for a in clips], DecodeSettings(),
                              PackingSettings(), HallucinationRules())
    texts = [" ".join(s.text for s in c.segments) for c in result.clips]
    assert texts == ["a10", "", "a12", "a13", "a14", "a15"]
    # round 1: clips 0-4 in one window, the decoder stops at 12 s (3 deferred) and jumps over clip 1
    # round 2: the deferred clips share a window; clip 1 (not silent, no word) is decoded alone
    assert (result.stats.deferred, result.stats.doubtful, result.stats.rounds) == (3, 1, 2)
    assert result.stats.decoded_windows == 3


def test_a_guessed_split_gets_one_more_shared_window_away_from_the_other_piece() -> None:
    clips = [tone_clip(3.0, 10 + i) for i in range(5)]
    # round 1: one window; 10 runs into 11 with a word in the gap between them; 13 and 14 start after 9 s
    backend = FakeBackend(defer_after_s=9.0, bridge=(10, 11))
    result = transcribe_clips(backend, [ClipRequest(a, None) for a in clips], DecodeSettings(),
                              PackingSettings(), HallucinationRules())
    assert [" ".join(s.text for s in c.segments) for c in result.clips] == ["a10", "a11", "a12", "a13", "a14"]
    assert result.stats.doubt_reasons == {"guessed_split": 2} and result.stats.deferred == 2
    # round 2: 10 shares a window with the deferred 13 and 14, 11 goes elsewhere (packed with 10 again,
    # the decoder would bridge them again and both would need a third round, alone)
    assert (result.stats.rounds, result.stats.decoded_windows) == (2, 3)
    again = transcribe_clips(FakeBackend(bridge=(10, 11)), [ClipRequest(a, None) for a in clips[:2]],
                             DecodeSettings(), PackingSettings(), HallucinationRules())
    assert [c.segments[0].text for c in again.clips] == ["a10", "a11"] and again.stats.decoded_windows == 3


def test_a_text_recurring_in_three_recordings_of_a_window_is_a_decoder_loop() -> None:
    audios = [tone_clip(3.0, 10), tone_clip(3.0, 11), tone_clip(3.0, 12), tone_clip(3.0, 10), tone_clip(3.0, 13)]
    window = _in_order([Piece(i, 0.0, 3.0, index=i) for i in range(5)])
    texts = ["I would like a cup", "David, I would like a cup of coffee.", "David, I would like a cup.",
             "I would like a cup", "the child"]
    by_piece = {i: [_seg(0.0, 1.0, [(w, 0.0, 1.0) for w in t.split()])] for i, t in enumerate(texts)}
    # "i would like a cup" is in pieces 0, 1, 2 and 3: recordings 10, 11 and 12 (3 is a copy of 0)
    assert copied_text(window, by_piece, audios) == {0, 1, 2, 3}
    two = {i: by_piece[i] for i in (0, 1, 3)}  # two recordings: two readings of one prompt may agree
    assert copied_text(window, two, audios) == set()
    short = {i: [_seg(0.0, 1.0, [("the", 0.0, 0.5), ("child", 0.5, 1.0)])] for i in (0, 1, 2)}
    assert copied_text(window, short, audios) == set()  # two words are too few to call a loop


def test_a_quiet_piece_without_words_is_accepted_as_silence() -> None:
    clips = [tone_clip(3.0, 10), np.zeros(3 * SR, np.float32), tone_clip(3.0, 2)]  # silence; 0.002 is quiet
    backend = FakeBackend(skip=[2])
    result = transcribe_clips(backend, [ClipRequest(a, None) for a in clips], DecodeSettings(),
                              PackingSettings(), HallucinationRules())
    assert [len(c.segments) for c in result.clips] == [1, 0, 0]
    assert result.stats.doubtful == 0 and result.stats.decoded_windows == 1


def test_vad_speech_limits_the_pieces_and_short_speech_is_not_decoded() -> None:
    audio = tone_clip(10.0, 20, speech=(4.0, 6.0))
    backend = FakeBackend()
    result = transcribe_clips(backend, [ClipRequest(audio, [(4.0, 6.0)]), ClipRequest(audio, [(4.0, 4.1)])],
                              DecodeSettings(), PackingSettings(pad_s=0.3), HallucinationRules(), min_speech_s=0.2)
    first, second = result.clips
    assert [s.text for s in first.segments] == ["a20"] and first.segments[0].start == pytest.approx(4.0, abs=0.02)
    assert second.segments == [] and second.rejected == []
    assert result.stats.pieces == 1  # the clip with 0.1 s of speech was never decoded


def test_declared_language_and_detection() -> None:
    audio = tone_clip(3.0, 10)
    english_only = FakeBackend()
    r = transcribe_clips(english_only, [ClipRequest(audio, None, "de"), ClipRequest(audio, None, None)],
                         DecodeSettings(), PackingSettings(), HallucinationRules())
    assert [(c.language, c.language_confidence) for c in r.clips] == [("de", None), (None, None)]
    multilingual = FakeBackend(language=("fr", 0.83))
    multilingual.multilingual = True
    r = transcribe_clips(multilingual, [ClipRequest(audio, None, "de"), ClipRequest(audio, None, None)],
                         DecodeSettings(), PackingSettings(), HallucinationRules())
    assert [(c.language, c.language_confidence) for c in r.clips] == [("de", None), ("fr", 0.83)]


def test_a_last_word_timed_into_the_gap_stays_with_its_piece() -> None:
    window = _in_order([Piece(0, 0.0, 2.5, index=0), Piece(1, 0.0, 2.6, index=1)])  # 2nd at 3.5
    # the aligner squeezed "middle." at the decoder's end timestamp, past the middle of the gap
    seg = _seg(0.0, 3.32, [("runs", 1.5, 2.06), ("the", 2.06, 3.32), ("middle.", 3.32, 3.32)])
    seg = seg.shifted(token_span=(0.0, 3.56))  # the decoder's own span also ends just inside piece 1
    ((piece, part),) = split_window(window, [seg])
    assert piece.clip == 0 and part.text == "runs the middle." and not part.uncertain_split
    assert part.end <= 2.5
    # the decoder's timestamps inside one piece decide for the whole segment
    inside = _seg(0.1, 3.3, [("a", 0.1, 0.5), ("thin", 0.5, 3.3)]).shifted(token_span=(0.0, 2.4))
    assert [p.clip for p, _ in split_window(window, [inside])] == [0]


def test_a_first_word_stretched_back_over_other_pieces_goes_with_the_words_after_it() -> None:
    pieces = [Piece(0, 0.0, 1.6, index=0), Piece(1, 0.0, 1.4, index=1), Piece(2, 0.0, 5.9, index=2)]
    window = _in_order(pieces)  # offsets 0, 2.6, 5.0
    seg = _seg(0.0, 10.0, [("1,", 0.0, 5.5), ("2,", 5.8, 6.3), ("3.", 6.4, 7.0)])
    parts = split_window(window, [seg])
    assert [(p.clip, s.text) for p, s in parts] == [(2, "1, 2, 3.")]
