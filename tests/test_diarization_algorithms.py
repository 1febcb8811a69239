"""Diarization building blocks on synthetic data: windows, clustering and the speaker count,
turns, overlap detection, conversion to the typed output, cross-region linking."""

from __future__ import annotations

import numpy as np
import pytest

from uas_pipeline.diarization.clustering import SpeakerCount, spectral_cluster
from uas_pipeline.diarization.convert import overlap_spans, to_output
from uas_pipeline.diarization.linking import link_region_outputs, link_region_speakers, relabel_output
from uas_pipeline.diarization.overlap import detect_overlaps, mixture_scores
from uas_pipeline.diarization.segmentation import (
    FrameGrid,
    absorb_short_runs,
    frame_labels,
    speech_mask,
    turns_from_labels,
)
from uas_pipeline.diarization.windows import Window, merge_regions, sliding_windows
from uas_pipeline.outputs.diarization import DiarizedSpeaker


def _voices(k: int, dim: int = 64, spread: float = 0.6, seed: int = 0) -> np.ndarray:
    """``k`` speaker directions with pairwise cosine about ``1 - spread``-ish."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=dim)
    v = base[None, :] + spread * 3 * rng.normal(size=(k, dim))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _windows_of(sequence: list[int], voices: np.ndarray, noise: float = 0.35, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = voices[sequence] + noise * rng.normal(size=(len(sequence), voices.shape[1])) / np.sqrt(voices.shape[1]) * 4
    return x / np.linalg.norm(x, axis=1, keepdims=True)


# --- windows -----------------------------------------------------------------------------------------


def test_sliding_windows_cover_regions_and_stay_inside() -> None:
    wins = sliding_windows([(0.0, 2.6), (3.0, 3.5), (4.0, 4.2)], window_s=1.0, hop_s=0.5, min_window_s=0.4)
    assert [(w.start, w.end) for w in wins[:4]] == [(0.0, 1.0), (0.5, 1.5), (1.0, 2.0), (1.5, 2.5)]
    assert wins[4].end == pytest.approx(2.6) and wins[4].duration == pytest.approx(1.0)  # flush with the end
    assert (wins[5].start, wins[5].end) == (3.0, 3.5)  # a short region is one window
    assert len(wins) == 6  # 0.2 s region is too short to embed
    with pytest.raises(ValueError):
        sliding_windows([(0, 1)], window_s=1.0, hop_s=1.5, min_window_s=0.1)


def test_merge_regions_joins_short_pauses() -> None:
    assert merge_regions([(2.0, 3.0), (0.0, 1.0), (1.2, 1.5)], 0.3) == [(0.0, 1.5), (2.0, 3.0)]


# --- clustering ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("k", [2, 3, 4])
def test_spectral_cluster_finds_speaker_count_and_partition(k: int) -> None:
    voices = _voices(k)
    truth = [t for turn in range(4 * k) for t in [turn % k] * 12]  # turns of 12 windows
    result = spectral_cluster(_windows_of(truth, voices), SpeakerCount(max_speakers=8))
    assert result.labels.max() + 1 == k
    # same partition up to renaming: each true speaker maps to one cluster
    pairs = {(t, int(lab)) for t, lab in zip(truth, result.labels, strict=True)}
    assert len(pairs) == k
    assert result.labels[0] == 0  # numbered by first appearance


def test_spectral_cluster_single_voice_is_one_speaker() -> None:
    voices = _voices(1)
    result = spectral_cluster(_windows_of([0] * 60, voices), SpeakerCount(max_speakers=8))
    assert result.labels.max() == 0


def test_speaker_count_constraints_are_obeyed() -> None:
    voices = _voices(3)
    truth = [t for turn in range(9) for t in [turn % 3] * 10]
    x = _windows_of(truth, voices)
    assert spectral_cluster(x, SpeakerCount(num_speakers=2)).labels.max() + 1 == 2
    assert spectral_cluster(x, SpeakerCount(max_speakers=2)).labels.max() + 1 <= 2
    assert spectral_cluster(x, SpeakerCount(min_speakers=4, max_speakers=6)).labels.max() + 1 >= 4
    assert SpeakerCount(min_speakers=3, max_speakers=8).bounds(2) == (2, 2)
    assert spectral_cluster(x[:2], SpeakerCount()).labels.tolist() == [0, 0]


# --- turns ---------------------------------------------------------------------------------------------


def test_frame_labels_follow_window_centres_and_speech() -> None:
    grid = FrameGrid.for_duration(6.0, 0.05)
    mask = speech_mask(grid, [(0.0, 2.5), (3.0, 6.0)])
    wins = sliding_windows([(0.0, 2.5), (3.0, 6.0)], 1.0, 0.25, 0.4)
    labels = np.array([0 if w.center < 4.0 else 1 for w in wins])
    frames = frame_labels(grid, mask, wins, np.eye(2)[labels])
    turns = turns_from_labels(grid, absorb_short_runs(frames, 6))
    assert [(t.speaker) for t in turns] == [0, 0, 1]
    assert turns[0].start == 0.0 and turns[0].end == pytest.approx(2.5)
    assert turns[2].start == pytest.approx(4.0, abs=0.3)
    assert (frames[grid.index(2.5): grid.index(3.0)] == -1).all()  # the pause stays silent


def test_absorb_short_runs() -> None:
    labels = np.array([0] * 10 + [1] * 2 + [0] * 10 + [-1] * 3 + [2] * 2 + [-1] * 3)
    out = absorb_short_runs(labels, 4)
    assert (out[:22] == 0).all()
    assert (out[25:27] == 2).all()  # isolated short speech is kept


# --- overlap -------------------------------------------------------------------------------------------


def test_mixture_score_separates_pure_and_mixed_windows() -> None:
    c = _voices(2, spread=0.2)
    a, b, score = mixture_scores(np.stack([c[0], c[1], (c[0] + c[1]) / np.linalg.norm(c[0] + c[1])]), c)
    assert score[0] < -0.2 and score[1] < -0.2 and score[2] > 0.2
    assert {int(a[2]), int(b[2])} == {0, 1}


def test_detect_overlaps_needs_extent_not_a_clean_change() -> None:
    c = _voices(2, spread=0.3)
    mix = (c[0] + c[1]) / np.linalg.norm(c[0] + c[1])
    grid = FrameGrid.for_duration(12.0, 0.05)
    wins = [Window(t, t + 1.0) for t in np.arange(0, 11.01, 0.25)]

    def emb(w: Window, overlap: tuple[float, float] | None, change: float) -> np.ndarray:
        lo, hi = overlap if overlap else (change, change)
        has_a = w.start < hi - 0.25 or (w.end <= hi)
        has_b = w.end > lo + 0.25
        if has_a and has_b:
            return mix
        return c[1] if has_b else c[0]

    labels = np.where(np.arange(grid.n) * 0.05 < 6.0, 0, 1)
    clean = np.stack([emb(w, None, 6.0) for w in wins])
    assert detect_overlaps(wins, clean, c, grid, labels, -0.1, 0.1) == []
    overlapped = np.stack([emb(w, (5.0, 7.0), 6.0) for w in wins])
    spans = detect_overlaps(wins, overlapped, c, grid, labels, -0.1, 0.1)
    assert len(spans) == 1 and spans[0].speakers == (0, 1)
    assert spans[0].start == pytest.approx(5.0, abs=0.3) and spans[0].end == pytest.approx(7.0, abs=0.3)


# --- conversion ----------------------------------------------------------------------------------------


def test_to_output_renumbers_merges_and_measures_overlap() -> None:
    turns = [(5.0, 8.0, "b"), (0.5, 3.0, "a"), (3.0, 4.0, "a"), (7.0, 9.0, "a"), (9.5, 9.5, "c")]
    out = to_output(turns, 10.0, {"a": np.ones(4), "b": np.arange(4.0)}, 0.8)
    assert [s.id for s in out.speakers] == ["SPEAKER_00", "SPEAKER_01"]  # "a" first, "c" empty
    assert [(t.start, t.end, t.speaker) for t in out.turns] == [
        (0.5, 4.0, "SPEAKER_00"), (5.0, 8.0, "SPEAKER_01"), (7.0, 9.0, "SPEAKER_00")]
    assert out.speakers[0].speech_duration_s == pytest.approx(5.5)
    assert [(o.start, o.end) for o in out.overlap] == [(7.0, 8.0)]
    assert out.overlap_ratio == pytest.approx(0.1)
    assert out.speakers[1].embedding == [0.0, 1.0, 2.0, 3.0]
    fields = out.record_fields()
    assert fields["paralinguistics.recording.num_speakers"] == 2
    assert fields["paralinguistics.recording.overlap_ratio"] == pytest.approx(0.1)


def test_overlap_spans_ignore_one_speakers_own_turns() -> None:
    assert overlap_spans([(0, 2, "a"), (1, 3, "a")]) == []
    assert overlap_spans([(0, 2, "a"), (1, 3, "b"), (2.5, 4, "c")]) == [(1, 2), (2.5, 3)]


# --- linking -------------------------------------------------------------------------------------------


def _spk(i: int, vec: np.ndarray | None, dur: float = 30.0) -> DiarizedSpeaker:
    return DiarizedSpeaker(id=f"SPEAKER_{i:02d}", speech_duration_s=dur,
                           embedding=None if vec is None else [float(v) for v in vec])


def test_link_region_speakers_keeps_ids_across_regions() -> None:
    voices = _voices(4, spread=0.5)
    rng = np.random.default_rng(3)

    def noisy(v: np.ndarray) -> np.ndarray:
        return v + 0.02 * rng.normal(size=v.shape)

    regions = [
        [_spk(0, noisy(voices[2])), _spk(1, noisy(voices[0]))],                       # C, A
        [_spk(0, noisy(voices[0])), _spk(1, noisy(voices[1])), _spk(2, noisy(voices[2]))],  # A, B, C
        [_spk(0, noisy(voices[3])), _spk(1, noisy(voices[1]))],                       # D, B
    ]
    maps = link_region_speakers(regions, threshold=0.8)
    assert maps[0] == {"SPEAKER_00": "SPEAKER_00", "SPEAKER_01": "SPEAKER_01"}
    assert maps[1] == {"SPEAKER_00": "SPEAKER_01", "SPEAKER_01": "SPEAKER_02", "SPEAKER_02": "SPEAKER_00"}
    assert maps[2] == {"SPEAKER_00": "SPEAKER_03", "SPEAKER_01": "SPEAKER_02"}
    for m in maps:  # injective per region
        assert len(set(m.values())) == len(m)
    assert link_region_speakers(regions, threshold=0.8) == maps  # deterministic


def test_link_never_merges_two_speakers_of_one_region_and_skips_missing_embeddings() -> None:
    v = _voices(1)[0]
    regions = [[_spk(0, v), _spk(1, v)], [_spk(0, v), _spk(1, None)]]
    maps = link_region_speakers(regions, threshold=0.5)
    assert maps[0] == {"SPEAKER_00": "SPEAKER_00", "SPEAKER_01": "SPEAKER_01"}
    assert maps[1]["SPEAKER_00"] in {"SPEAKER_00", "SPEAKER_01"}
    assert maps[1]["SPEAKER_01"] == "SPEAKER_02"  # no embedding: a speaker of its own
    # nothing similar enough: every speaker is new
    far = _voices(3, spread=2.0)
    assert link_region_speakers([[_spk(0, far[0])], [_spk(0, far[1])]], threshold=0.99) == [
        {"SPEAKER_00": "SPEAKER_00"}, {"SPEAKER_00": "SPEAKER_01"}]


def test_link_region_outputs_relabels_turns_and_speakers() -> None:
    voices = _voices(2, spread=0.5)
    first = to_output([(0, 2, "x"), (2, 4, "y")], 5.0, {"x": voices[0], "y": voices[1]}, 0.8)
    second = to_output([(0, 3, "y"), (3, 4, "x")], 5.0, {"x": voices[0], "y": voices[1]}, 0.8)
    linked = link_region_outputs([first, second])
    assert [t.speaker for t in linked[1].turns] == ["SPEAKER_01", "SPEAKER_00"]
    assert [s.id for s in linked[1].speakers] == ["SPEAKER_00", "SPEAKER_01"]
    assert relabel_output(first, {}) == first
