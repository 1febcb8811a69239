"""Frame scores → events on constructed score sequences: thresholds, hysteresis, merging, minimum
duration, clip edges, window geometry, the background rule, side columns and record assembly."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pydantic import ValidationError

from uas_pipeline.assembly import RecordDraft
from uas_pipeline.clips import ClipInfo
from uas_pipeline.events.detect import DetectionParams, active_runs, detect_events, merge_runs
from uas_pipeline.events.scores import SIDE_COLUMNS, FrameScores
from uas_pipeline.events.vocabulary import SourceClass
from uas_pipeline.outputs.events import EventsOutput, StoredScores

DOG_BARK = SourceClass("Bark", "/m/05tny_")
DOG = SourceClass("Dog", "/m/0bt9lr")
MUSIC = SourceClass("Music", "/m/04rlf")
RAIN = SourceClass("Rain", "/m/06mb1")


def frames(columns: dict[str, list[float]], hop: float = 0.1, window: float | None = None,
           sources: dict[str, list[int]] | None = None, classes=(DOG_BARK, DOG, MUSIC, RAIN)) -> FrameScores:
    labels = tuple(columns)
    scores = np.array([columns[k] for k in labels], dtype=np.float32).T
    default = {"dog": 0, "music": 2, "rain": 3}
    src = np.array([(sources or {}).get(k, [default.get(k, 0)] * scores.shape[0]) for k in labels]).T
    return FrameScores(scores, src, labels, tuple(classes), hop, hop if window is None else window)


def test_active_runs_need_a_peak_over_the_threshold_and_extend_to_the_release_level():
    x = np.array([0.0, 0.2, 0.5, 0.2, 0.1, 0.0, 0.25, 0.28, 0.0, 0.35])
    assert active_runs(x, on=0.3, off=0.15) == [(1, 4), (9, 10)]  # the 0.25/0.28 bump never reaches 0.3
    assert active_runs(x, on=0.3, off=0.3) == [(2, 3), (9, 10)]   # no hysteresis
    assert active_runs(np.zeros(5), 0.3, 0.15) == []


def test_merge_runs_bridges_short_gaps_only():
    spans = [(0.0, 1.0, 0, 9), (1.4, 2.0, 14, 19), (3.0, 3.5, 30, 34)]
    assert merge_runs(spans, 0.5) == [(0.0, 2.0, 0, 19), (3.0, 3.5, 30, 34)]
    assert merge_runs(spans, 0.39) == spans
    assert merge_runs(spans, 1.0) == [(0.0, 3.5, 0, 34)]


def test_frame_level_events_hysteresis_bounds_and_confidence():
    # 10 frames of 0.1 s; dog active in frames 2..5 (peak 0.9 in frame 4), music never reaches 0.3
    fs = frames({"dog": [0, 0, 0.2, 0.6, 0.9, 0.2, 0.05, 0, 0, 0], "music": [0.25] * 10})
    events, background = detect_events(fs, 1.0, DetectionParams(threshold=0.3, release_ratio=0.5))
    assert [(e.label, e.start, e.end) for e in events] == [("dog", 0.2, 0.6)]
    assert events[0].confidence == pytest.approx(0.9, abs=1e-3)
    assert events[0].source_label == "Bark" and events[0].ontology_id == "/m/05tny_"
    assert events[0].kind == "event" and background == []
    # no hysteresis: only the frames over 0.3
    events, _ = detect_events(fs, 1.0, DetectionParams(threshold=0.3, release_ratio=1.0))
    assert [(e.start, e.end) for e in events] == [(0.3, 0.5)]


def test_per_label_thresholds_override_the_default():
    fs = frames({"dog": [0, 0.5, 0.5, 0], "music": [0, 0.5, 0.5, 0]})
    events, _ = detect_events(fs, 0.4, DetectionParams(threshold=0.3, thresholds={"music": 0.6}))
    assert [e.label for e in events] == ["dog"]
    with pytest.raises(ValidationError, match="unknown event labels"):
        DetectionParams(thresholds={"speech": 0.5})


def test_gaps_are_merged_and_short_events_dropped():
    dog = [0.9, 0.9, 0, 0, 0.9, 0.9, 0, 0, 0, 0, 0, 0.9, 0, 0, 0, 0, 0, 0, 0, 0]
    fs = frames({"dog": dog})
    params = DetectionParams(merge_gap_s=0.25, min_duration_s=0.0)
    events, _ = detect_events(fs, 2.0, params)
    assert [(e.start, e.end) for e in events] == [(0.0, 0.6), (1.1, 1.2)]
    # the merged event's source and confidence come from its best frame
    events, _ = detect_events(fs, 2.0, params.model_copy(update={"min_duration_s": 0.2}))
    assert [(e.start, e.end) for e in events] == [(0.0, 0.6)]  # the 0.1 s blip is dropped
    events, _ = detect_events(fs, 2.0, params.model_copy(update={"merge_gap_s": 0.1}))
    assert len(events) == 3


def test_clip_edges_events_reach_zero_and_the_clip_end():
    fs = frames({"music": [0.9, 0.9, 0.0, 0.0, 0.9, 0.9]})
    events, _ = detect_events(fs, 0.58, DetectionParams(merge_gap_s=0.0))
    assert [(e.start, e.end) for e in events] == [(0.0, 0.2), (0.4, 0.58)]


def test_window_geometry_for_taggers():
    # 0.96 s windows every 0.48 s; windows 3..6 active: the sound started in the last hop of window 3
    # and ended in the first hop of window 6
    x = [0, 0, 0, 0.8, 0.8, 0.8, 0.8, 0, 0, 0]
    fs = frames({"dog": x}, hop=0.48, window=0.96)
    events, _ = detect_events(fs, 5.28, DetectionParams(merge_gap_s=0.0))
    assert [(e.start, e.end) for e in events] == [(3 * 0.48 + 0.96 - 0.48, 6 * 0.48 + 0.48)]
    # a sound shorter than window - hop: one active window gives the window itself
    fs = frames({"dog": [0, 0, 0.8, 0, 0, 0]}, hop=0.48, window=0.96)
    events, _ = detect_events(fs, 3.36, DetectionParams())
    assert [(e.start, e.end) for e in events] == [(0.96, 1.92)]
    assert fs.span(0, 0, 3.36) == (0.0, 0.48) and fs.span(5, 5, 3.36) == (2.88, 3.36)


def test_background_rule_coverage_duration_and_long_events():
    params = DetectionParams(background_min_duration_s=3.0, background_min_coverage=0.5, background_long_s=30.0)
    # rain over 8 s of a 10 s clip: background; a 0.5 s dog: event
    rain = [0.9] * 80 + [0.0] * 20
    dog = [0.0] * 40 + [0.9] * 5 + [0.0] * 55
    events, background = detect_events(frames({"dog": dog, "rain": rain}), 10.0, params)
    kinds = {e.label: e.kind for e in events}
    assert kinds == {"rain": "background", "dog": "event"} and background == ["rain"]
    # the same rain covering 8 s of a 60 s clip: long enough, but covers too little
    long = [0.9] * 80 + [0.0] * 520
    events, background = detect_events(frames({"rain": long}), 60.0, params)
    assert events[0].kind == "event" and background == []
    # a 40 s stretch of a 100 s clip is background by length alone, but not "most of the clip"
    music = [0.9] * 400 + [0.0] * 600
    events, background = detect_events(frames({"music": music}), 100.0, params)
    assert events[0].kind == "background" and background == []
    # a 1 s clip all music: covered, but too short to be a background
    events, background = detect_events(frames({"music": [0.9] * 10}), 1.0, params)
    assert events[0].kind == "event" and background == []


def test_events_are_sorted_by_start_end_label():
    fs = frames({"dog": [0.9, 0.9, 0, 0], "music": [0.9, 0.9, 0.9, 0.9], "rain": [0, 0, 0.9, 0.9]})
    events, _ = detect_events(fs, 0.4, DetectionParams(merge_gap_s=0.0))
    keys = [(e.start, e.end, e.label) for e in events]
    assert keys == sorted(keys) and [e.label for e in events] == ["dog", "music", "rain"]


def test_source_label_follows_the_best_frame():
    fs = frames({"dog": [0.4, 0.9, 0.5]}, sources={"dog": [0, 1, 0]})
    events, _ = detect_events(fs, 0.3, DetectionParams())
    assert events[0].source_label == "Dog" and events[0].ontology_id == "/m/0bt9lr"


def test_score_floor_prunes_stored_labels_and_bounds_the_thresholds():
    fs = frames({"dog": [0.0, 0.005, 0.0], "music": [0.2, 0.9, 0.5]})
    assert fs.above(0.01).labels == ("music",) and fs.above(0.0).labels == ("dog", "music")
    # pruning never changes the events of thresholds at or above the floor
    params = DetectionParams(threshold=0.01, score_floor=0.01)
    assert detect_events(fs.above(0.01), 0.3, params) == detect_events(fs, 0.3, params)
    with pytest.raises(ValidationError, match="below score_floor"):
        DetectionParams(threshold=0.3, thresholds={"dog": 0.005}, score_floor=0.01)


def test_no_frames_or_no_scores_give_no_events():
    assert detect_events(frames({"dog": [0.0] * 5}), 0.5, DetectionParams()) == ([], [])
    empty = FrameScores(np.zeros((0, 1), np.float32), np.zeros((0, 1), int), ("dog",), (DOG,), 0.1, 0.1)
    assert detect_events(empty, 0.5, DetectionParams()) == ([], [])


def test_pooling_averages_frames_and_widens_the_window():
    fs = frames({"dog": [0.0, 1.0, 0.5, 0.5, 0.2]}, hop=0.01, sources={"dog": [0, 1, 0, 0, 0]})
    pooled = fs.pooled(2)
    assert pooled.hop_s == pytest.approx(0.02) and pooled.window_s == pytest.approx(0.02)
    assert pooled.scores[:, 0].tolist() == pytest.approx([0.5, 0.5, 0.2])
    assert pooled.sources[:, 0].tolist() == [1, 0, 0]
    windowed = frames({"dog": [0.1] * 6}, hop=0.48, window=0.975).pooled(3)
    assert windowed.window_s == pytest.approx(0.975 + 2 * 0.48)


def test_side_columns_round_trip_in_float16():
    fs = frames({"dog": [0.123456, 0.9, 0.0], "music": [1.0, 0.5, 0.25]}, hop=0.48, window=0.975,
                sources={"dog": [0, 1, 1]})
    cols = fs.side_columns()
    assert set(cols) == set(SIDE_COLUMNS)
    assert cols["event_score_source_classes"] == ["/m/05tny_|Bark", "/m/0bt9lr|Dog", "/m/04rlf|Music"]
    back = FrameScores.from_side_columns(cols)
    assert back.labels == fs.labels and back.hop_s == 0.48 and back.window_s == 0.975
    np.testing.assert_allclose(back.scores, fs.scores, atol=1e-3)
    assert [back.source_classes[i].name for i in back.sources[:, 0]] == ["Bark", "Dog", "Dog"]
    assert FrameScores.from_side_columns({"event_scores": None}) is None
    # a clip where no label reached the floor stores no label at all
    quiet = FrameScores.from_side_columns(fs.above(2.0).side_columns())
    assert quiet.labels == () and detect_events(quiet, 1.0, DetectionParams()) == ([], [])


def test_events_output_survives_json_and_assembles_into_a_record():
    fs = frames({"music": [0.9] * 40, "dog": [0.0] * 10 + [0.8] * 3 + [0.0] * 27})
    events, background = detect_events(fs, 4.0, DetectionParams())
    out = EventsOutput(events=events, background=background, scores=StoredScores.of(fs))
    again = EventsOutput.model_validate_json(out.model_dump_json())
    assert again == out and again.scores.frame_scores().num_frames == 40
    assert set(out.side_columns()) == set(SIDE_COLUMNS)
    draft = RecordDraft()
    draft.apply("events", out.record_fields())
    record = draft.build(ClipInfo(id="c", source="c.wav", duration_s=4.0, sample_rate=16000, channels=1))
    assert [e.label for e in record.non_linguistic_events] == ["music", "dog"]
    assert record.paralinguistics.recording.background == ["music"]
    assert record.non_linguistic_events[0].kind == "background"
    doc = json.loads(record.to_json())
    assert doc["non_linguistic_events"][1] == {"label": "dog", "start": 1.0, "end": 1.3, "confidence": 0.8,
                                               "source_label": "Bark", "ontology_id": "/m/05tny_", "kind": "event"}
    assert EventsOutput(events=[], background=[], scores=None).side_columns() == {}
