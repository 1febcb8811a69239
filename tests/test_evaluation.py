"""``uas-pipeline eval``: normaliser, references, joining, stitching, every metric family, plug-ins,
and the command end to end on hand-made shards (no models, no audio)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from uas_pipeline.cli import main
from uas_pipeline.evaluation import normalize_text, pooled_wer, word_errors
from uas_pipeline.evaluation.asr import WordErrorRate
from uas_pipeline.evaluation.diarization import DiarizationError, hypothesis_turns, score_turns
from uas_pipeline.evaluation.join import join_records, load_joined
from uas_pipeline.evaluation.keywords import KeywordRecall
from uas_pipeline.evaluation.language import LanguageId
from uas_pipeline.evaluation.references import (
    ReferencesError,
    load_references,
    read_rttm,
    read_stm_text,
    reference_turns,
)
from uas_pipeline.evaluation.registry import load_families
from uas_pipeline.evaluation.runner import evaluate, render_table
from uas_pipeline.evaluation.speakers import SpeakerCount
from uas_pipeline.evaluation.stitch import StitchError, stitch_regions

from .eval_helpers import make_record, write_jsonl, write_output, write_rttm


def _words(start: float, end: float, step: float = 1.0) -> list[tuple[str, float, float]]:
    out, t = [], start
    while t < end - 1e-9:
        out.append(("w", round(t, 3), round(min(t + step, end), 3)))
        t += step
    return out


def _seg(start: float, end: float, speaker: str | None, step: float = 1.0):
    words = _words(start, end, step)
    return (start, end, speaker, " ".join(w for w, _, _ in words), words)


# --- normaliser ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "language", "expected"), [
    ("Hello, World!", None, "hello world"),
    ("THE CHILD ALMOST HURT THE SMALL DOG", "en", "the child almost hurt the small dog"),
    ("  It’s   a  'quoted'  test...  ", None, "it's a quoted test"),
    ("Don't stop; rock'n'roll", "en", "do not stop rock'n'roll"),
    ("I won't, we're, they'll, I've, I'm, can't, cannot", "en",
     "i will not we are they will i have i am can not can not"),
    ("Drop the two", "en", "drop the 2"),
    ("Drop the 2.", "en", "drop the 2"),
    ("twenty-one guns", "en", "21 guns"),
    ("two hundred and five", "en", "205"),
    ("one hundred thousand and one", "en", "100001"),
    ("one two three", "en", "1 2 3"),
    ("nineteen ninety", "en", "19 90"),
    ("three point five", "en", "3.5"),
    ("It costs $20, 10% off", "en", "it costs 20 dollars 10 percent off"),
    ("1,000,000 people", "en", "1000000 people"),
    ("[laughter] hello <unk> world", None, "hello world"),
    ("STRASSE", "de", "strasse"),
    ("Straße", "de", "strasse"),
    ("Der Lappen liegt auf dem Eisschrank.", "de", "der lappen liegt auf dem eisschrank"),
    ("zwei, one two", "de", "zwei one two"),  # number words are converted in English only
    ("Café AU lait", "fr", "café au lait"),
    ("?!. ,", None, ""),
])
def test_normalize_text(text: str, language: str | None, expected: str) -> None:
    assert normalize_text(text, language) == expected


def test_word_errors_counts_substitutions_deletions_insertions() -> None:
    e = word_errors("a b c d", "a x d")
    assert (e.substitutions, e.deletions, e.insertions, e.reference_words) == (1, 1, 0, 4)
    assert e.wer == 0.5
    e = word_errors("a b", "a b c d")
    assert (e.insertions, e.errors, e.wer) == (2, 2, 1.0)
    assert word_errors("a b", "").deletions == 2
    assert word_errors("", "x").insertions == 1


def test_pooled_wer_uses_the_normaliser() -> None:
    assert pooled_wer([("Drop the TWO.", "drop the 2"), ("I don't know", "I do not know")]) == 0.0
    assert pooled_wer([("one", "two")]) == 1.0


# --- references ------------------------------------------------------------------------------------


def test_references_in_both_formats(tmp_path: Path) -> None:
    write_rttm(tmp_path / "m.rttm", "m", [(0.0, 1.0, "A")])
    manifest = write_jsonl(tmp_path / "refs.jsonl", [
        {"path": "asr/a.wav", "category": "asr", "reference": {"text": "hi", "language": "en"}},
        {"id": "mine", "audio": "audio/m.wav", "text": "hello", "rttm": "m.rttm", "num_speakers": 1, "x": 3},
        {"audio": "/abs/only.wav", "language": "de-DE"},
    ])
    refs = load_references(manifest)
    assert [r.key for r in refs.references] == ["asr/a.wav", "mine", "/abs/only.wav"]
    a, mine, only = refs.references
    assert a.audio == str((tmp_path / "asr" / "a.wav").resolve()) and a.labels["text"] == "hi"
    assert mine.entry["path"] == "audio/m.wav" and mine.entry["category"] is None
    assert mine.labels == {"text": "hello", "rttm": "m.rttm", "num_speakers": 1, "x": 3}
    assert reference_turns(mine.entry, refs.ref_dir) == [(0.0, 1.0, "A")]
    assert LanguageId().applies(only.entry) and not WordErrorRate().applies(only.entry)


@pytest.mark.parametrize(("lines", "message"), [
    (['{"path": "a.wav", "reference": {}}', '{"path": "a.wav", "reference": {}}'], "duplicate"),
    (['{"path": "a.wav", "reference": {"rttm": "nope.rttm"}}'], "rttm file not found"),
    (["not json"], "not valid JSON"),
    (['{"text": "no id"}'], "needs an \"id\" or an \"audio\""),
    (['{"reference": {"text": "x"}}'], "needs a \"path\""),
    ([""], "no references"),
])
def test_bad_references_are_refused(tmp_path: Path, lines: list[str], message: str) -> None:
    path = tmp_path / "refs.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ReferencesError, match=message):
        load_references(path)


def test_rttm_segments_and_stm_readers(tmp_path: Path) -> None:
    multi = tmp_path / "multi.rttm"
    multi.write_text("SPEAKER f1 1 0.5 1.0 <NA> <NA> A <NA> <NA>\n"
                     "SPEAKER f2 1 2.0 1.0 <NA> <NA> B <NA> <NA>\n")
    assert read_rttm(multi, "f2") == [(2.0, 3.0, "B")]
    with pytest.raises(ReferencesError, match="several files"):
        read_rttm(multi, "other")
    (tmp_path / "d.segments").write_text("0\t6.3\tspeakerA\n6.3\t11.3\tspeakerB\n")
    entry = {"category": "diarization", "reference": {"segments": "d.segments"}}
    assert reference_turns(entry, tmp_path) == [(0.0, 6.3, "speakerA"), (6.3, 11.3, "speakerB")]
    # outside the diarization category a segments file is speech/silence, not speakers
    assert reference_turns({"category": "vad", "reference": {"segments": "d.segments"}}, tmp_path) is None
    (tmp_path / "s.stm").write_text("s 1 B 2.0 3.0 <o,f0,male> second one\n;; comment\n"
                                    "s 1 A 0.5 1.5 First.\n")
    assert read_stm_text(tmp_path / "s.stm") == "First. second one"


# --- joining and stitching -------------------------------------------------------------------------


def test_join_rules(tmp_path: Path) -> None:
    audio = tmp_path / "audio"
    manifest = write_jsonl(tmp_path / "refs.jsonl", [
        {"path": "a.wav", "reference": {"text": "a"}},                      # by id
        {"path": "long.wav", "reference": {"text": "long"}},                # by regions of its id
        {"id": "by-source", "audio": "audio/s.wav", "text": "s"},           # by source
        {"id": "whole", "audio": "audio/w.wav", "text": "w"},               # by source, regions
        {"id": "twice", "audio": "audio/t.wav", "text": "t"},               # two whole records: ambiguous
        {"id": "none", "audio": "audio/none.wav", "text": "n"},             # no record
        {"id": "pref", "audio": "audio/p.wav", "text": "p"},                # id beats source
    ])
    records = [
        make_record("a.wav"),
        make_record("long.wav#r0001", offset=10.0, source="/x/long.wav"),
        make_record("long.wav#r0000", offset=0.0, source="/x/long.wav"),
        make_record("mine-s", source=str(audio / "s.wav")),
        make_record("w-part", offset=30.0, source=str(audio / "w.wav")),
        make_record("t1", source=str(audio / "t.wav")),
        make_record("t2", source=str(audio / "t.wav")),
        make_record("pref", source="/elsewhere/p.wav"),
        make_record("p-by-source", source=str(audio / "p.wav")),
        make_record("stray"),
    ]
    matches, report = join_records(write_output(tmp_path / "out", records), load_references(manifest))
    by_key = {j.reference.key: j for j in load_joined(matches, report)}
    assert {k: j.rule for k, j in by_key.items()} == {
        "a.wav": "id", "long.wav": "regions", "by-source": "source", "whole": "source-regions", "pref": "id"}
    assert by_key["long.wav"].clip_ids == ["long.wav#r0001", "long.wav#r0000"]
    assert by_key["long.wav"].record.clip.duration_s == 20.0
    assert by_key["whole"].record.clip.duration_s == 40.0  # file time: the part starts at 30 s
    assert report.records == 10
    assert report.missing == ["none"]
    assert report.ambiguous == {"twice": ["t1", "t2"]}
    assert report.unmatched_ids == ["stray"] and report.unmatched_records == 1
    assert report.superseded_ids == ["p-by-source"]
    assert report.to_dict()["joined"] == 5


def test_stitch_regions_shifts_times_and_keeps_region_speakers_apart() -> None:
    r0 = make_record("f#r0000", offset=0.0, duration=10.0, source="/f.wav", language="en",
                     segments=[_seg(1.0, 3.0, "SPEAKER_00"), _seg(5.0, 9.0, "SPEAKER_01")],
                     speakers=["SPEAKER_00", "SPEAKER_01"])
    r1 = make_record("f#r0001", offset=10.0, duration=10.0, source="/f.wav", language="de",
                     segments=[_seg(0.0, 2.0, "SPEAKER_00")], speakers=["SPEAKER_00"])
    rec = stitch_regions([r1, r0], from_region_ids=True, file_id="f")
    assert rec.clip.id == "f" and rec.clip.duration_s == 20.0 and rec.clip.offset_s is None
    segs = rec.transcription.segments
    assert [(s.start, s.end, s.speaker) for s in segs] == [
        (1.0, 3.0, "SPEAKER_00"), (5.0, 9.0, "SPEAKER_01"), (10.0, 12.0, "SPEAKER_02")]
    assert segs[2].words[0].start == 10.0
    assert rec.transcription.language == "en"  # 6 s of English speech against 2 s of German
    assert rec.paralinguistics.recording.num_speakers == 3
    assert rec.transcription.text == " ".join(s.text for s in segs)


def test_stitch_regions_of_rich_records_shifts_every_timed_part() -> None:
    from uas_pipeline.schema import UASRecord

    from .fixtures_records import rich_record_dict

    regions = []
    for k in range(2):
        doc = rich_record_dict()
        doc["clip"].update(id=f"r.wav#r{k:04d}", offset_s=12.5 * k)
        regions.append(UASRecord.model_validate(doc))
    rec = stitch_regions(regions, from_region_ids=True, file_id="r.wav")
    assert rec.clip.duration_s == 25.0
    para = rec.paralinguistics
    assert [s.id for s in para.speakers] == ["SPEAKER_00", "SPEAKER_01", "SPEAKER_02", "SPEAKER_03"]
    assert para.speakers[2].gender.label == "female"  # region 1's SPEAKER_00, profile kept
    assert [(s.start, s.speaker) for s in para.segments] == [
        (0.5, "SPEAKER_00"), (5.0, "SPEAKER_01"), (13.0, "SPEAKER_02"), (17.5, "SPEAKER_03")]
    assert para.recording.num_speakers == 4 and para.recording.speech_ratio == 0.68
    assert para.recording.snr_db is None
    assert [(e.start, e.label) for e in rec.non_linguistic_events][3:] == [
        (12.5, "music"), (22.3, "laughter"), (23.5, "dog")]
    assert [r.start for r in rec.transcription.rejected] == [10.0, 22.5]
    assert rec.transcription.segments[2].words[0].start == 13.0


def test_stitch_regions_of_an_entry_that_starts_at_an_offset() -> None:
    # a manifest entry starting at 100 s, split in 50 s regions; region 0 failed
    r1 = make_record("e#r0001", offset=150.0, duration=50.0, source="/e.wav", segments=[_seg(0.0, 1.0, None)])
    r2 = make_record("e#r0002", offset=200.0, duration=50.0, source="/e.wav", segments=[_seg(0.0, 1.0, None)])
    rec = stitch_regions([r1, r2], from_region_ids=True, file_id="e")
    assert rec.clip.offset_s == 100.0 and rec.clip.duration_s == 150.0
    assert [s.start for s in rec.transcription.segments] == [50.0, 100.0]


def test_stitch_refuses_overlapping_regions() -> None:
    a = make_record("o#r0000", offset=0.0, duration=10.0, source="/o.wav")
    b = make_record("o#r0001", offset=5.0, duration=10.0, source="/o.wav")
    with pytest.raises(StitchError, match="overlap"):
        stitch_regions([a, b], from_region_ids=True, file_id="o")


# --- metric families -------------------------------------------------------------------------------


def test_wer_family_selection_and_figures(tmp_path: Path) -> None:
    fam = WordErrorRate()
    rec = make_record("x", segments=[(0.0, 2.0, None, "Hello word, it's 2 o'clock.")])
    gold = {"reference": {"text": "HELLO WORLD IT'S TWO O'CLOCK THERE", "language": "en"}}
    out = fam.score_clip(rec, gold, tmp_path)
    assert (out["substitutions"], out["deletions"], out["insertions"], out["reference_words"]) == (1, 1, 0, 6)
    assert out["wer"] == pytest.approx(2 / 6)
    silver = {"reference": {"segments_asserted": ["x"], "reference_type": "SILVER: whisper output"}}
    assert fam.applies(silver)
    assert fam.score_clip(rec, silver, tmp_path) == {"unscored": "silver or partial reference"}
    stereo = {"reference": {"channels": {"left": "a", "right": "b"}, "language": "en"}}
    assert fam.score_clip(rec, stereo, tmp_path) == {"unscored": "per-channel reference"}
    assert not fam.applies({"reference": {"text": None}})
    assert not fam.applies({"reference": {"text_contains": ["x"]}})
    assert fam.score_clip(make_record("y", transcribed=False), gold, tmp_path) == {
        "unscored": "transcription not annotated"}
    pooled = fam.pool([out, {**out, "language": "de", "errors": 0, "reference_words": 4}])
    assert pooled["wer"] == pytest.approx(2 / 10) and pooled["by_language"]["de"]["wer"] == 0.0


def test_keyword_recall(tmp_path: Path) -> None:
    fam = KeywordRecall()
    entry = {"reference": {"text_contains": ["ComfyUI", "stable diffusion"], "reference_type": "partial"}}
    rec = make_record("k", segments=[(0.0, 2.0, None, "Open comfyUI with Stable Diffusion XL.")])
    assert fam.score_clip(rec, entry, tmp_path) == {"keywords": 2, "found": 2, "missing": []}
    rec = make_record("k", segments=[(0.0, 2.0, None, "Comfy UI and stable.")])
    out = fam.score_clip(rec, entry, tmp_path)
    assert out["found"] == 0 and fam.pool([out])["recall"] == 0.0


def test_language_id_outcomes(tmp_path: Path) -> None:
    fam = LanguageId()
    de = {"reference": {"language": "de"}}
    scores = [fam.score_clip(make_record("a", language="de"), de, tmp_path),
              fam.score_clip(make_record("b", language="en"), de, tmp_path),
              fam.score_clip(make_record("c", language=None), de, tmp_path),
              fam.score_clip(make_record("d", language="de"),
                             {"reference": {"languages_in_order": ["en", "de"]}}, tmp_path)]
    assert [s["outcome"] for s in scores] == ["correct", "wrong", "not_identified", "in_set"]
    assert fam.score_clip(make_record("e", transcribed=False), de, tmp_path) == {
        "unscored": "transcription not annotated"}
    pooled = fam.pool(scores)
    assert pooled["accuracy"] == pytest.approx(1 / 3) and pooled["accuracy_identified"] == 0.5
    assert pooled["confusions"] == {"de->en": 1} and pooled["code_switched"]["in_set"] == 1


def test_speaker_count(tmp_path: Path) -> None:
    fam = SpeakerCount()
    entry = {"reference": {"num_speakers": 2}}
    two = fam.score_clip(make_record("a", speakers=["SPEAKER_00", "SPEAKER_01"]), entry, tmp_path)
    three = fam.score_clip(make_record("b", speakers=["SPEAKER_00", "SPEAKER_01", "SPEAKER_02"]), entry,
                           tmp_path)
    assert two["correct"] and three["error"] == 1
    assert fam.score_clip(make_record("c"), entry, tmp_path) == {"unscored": "speakers not annotated"}
    pooled = fam.pool([two, three])
    assert (pooled["accuracy"], pooled["mean_abs_error"], pooled["over"]) == (0.5, 0.5, 1)
    assert not fam.applies({"reference": {"num_speakers": True}})


def test_hypothesis_turns_merge_words_of_one_speaker() -> None:
    rec = make_record("h", duration=10.0, speakers=["SPEAKER_00", "SPEAKER_01"], segments=[
        (0.0, 4.0, "SPEAKER_00", "a b c", [("a", 0.0, 1.0), ("b", 1.3, 2.0), ("c", 3.0, 4.0)]),
        (4.2, 5.0, "SPEAKER_01", "d", [("d", 4.2, 5.0)]),
        (6.0, 7.0, None, "e"),
        (7.0, 8.0, "SPEAKER_01", "f"),  # no word timings: the segment span
    ])
    turns, unattributed = hypothesis_turns(rec)
    assert turns == [(0.0, 2.0, "SPEAKER_00"), (3.0, 4.0, "SPEAKER_00"), (4.2, 5.0, "SPEAKER_01"),
                     (7.0, 8.0, "SPEAKER_01")]
    assert unattributed == 1.0
    assert hypothesis_turns(make_record("n", segments=[(0.0, 1.0, None, "x")])) == "speakers not annotated"
    assert "no transcript" in hypothesis_turns(make_record("t", transcribed=False, speakers=["SPEAKER_00"]))


def test_der_and_jer_on_a_constructed_hypothesis(tmp_path: Path) -> None:
    ref = [(0.0, 10.0, "A"), (10.0, 20.0, "B")]
    # the hypothesis gives the first 2 s of B to the first speaker
    rec = make_record("d", duration=20.0, speakers=["SPEAKER_00", "SPEAKER_01"],
                      segments=[_seg(0.0, 12.0, "SPEAKER_00"), _seg(12.0, 20.0, "SPEAKER_01")])
    turns, _ = hypothesis_turns(rec)
    assert turns == [(0.0, 12.0, "SPEAKER_00"), (12.0, 20.0, "SPEAKER_01")]
    exact = score_turns(ref, turns, [(0.0, 20.0)], collar=0.0)
    assert exact["der"] == pytest.approx(2 / 20) and exact["confusion_s"] == pytest.approx(2.0)
    assert exact["jer"] == pytest.approx((1 - 10 / 12 + 1 - 8 / 10) / 2)
    # pyannote's collar 0.25 s removes ±0.125 s around the boundaries at 0, 10 and 20 s
    write_rttm(tmp_path / "d.rttm", "d", ref)
    fam = DiarizationError()
    out = fam.score_clip(rec, {"path": "d.wav", "reference": {"rttm": "d.rttm"}}, tmp_path)
    assert out["reference_s"] == pytest.approx(19.5) and out["der"] == pytest.approx(1.875 / 19.5)
    assert (out["reference_speakers"], out["hypothesis_speakers"]) == (2, 2)
    missed = fam.score_clip(make_record("e", duration=20.0, speakers=[], segments=[]),
                            {"path": "d.wav", "reference": {"rttm": "d.rttm"}}, tmp_path)
    assert missed["der"] == pytest.approx(1.0) and missed["missed_s"] == pytest.approx(19.5)
    pooled = fam.pool([out, missed])
    assert pooled["der"] == pytest.approx((1.875 + 19.5) / 39.0)


def test_der_scores_the_stage_turns_when_the_shard_has_them(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    ref = [(0.0, 10.0, "A"), (10.0, 20.0, "B")]
    write_rttm(tmp_path / "d.rttm", "d", ref)
    manifest = write_jsonl(tmp_path / "refs.jsonl", [{"path": "d.wav", "reference": {"rttm": "d.rttm"}}])
    # the transcript covers only 2-6 s and 12-16 s; the stage's turns cover the speech
    rec = make_record("d.wav", duration=20.0, speakers=["SPEAKER_00", "SPEAKER_01"],
                      segments=[_seg(2.0, 6.0, "SPEAKER_00"), _seg(12.0, 16.0, "SPEAKER_01")])
    out = write_output(tmp_path / "out", [rec])
    (shard,) = sorted(out.glob("part-*.parquet"))
    table = pq.read_table(shard)
    turns = json.dumps([[0.0, 10.5, "SPEAKER_00"], [10.5, 20.0, "SPEAKER_01"]])
    pq.write_table(table.append_column("speaker_turns", pa.array([turns], pa.large_string())), shard)
    m = evaluate(out, manifest).to_dict()["metrics"]["diarization"]
    (clip,) = m["clips"]
    assert clip["hypothesis"] == "turns" and clip["der"] == pytest.approx(0.375 / 19.5)
    assert clip["der_transcript"] == pytest.approx(11.5 / 19.5)  # 12 s of speech not transcribed
    assert m["pooled"]["hypothesis_from_turns"] == 1
    assert m["pooled"]["der_transcript"] == pytest.approx(11.5 / 19.5)


# --- plug-ins --------------------------------------------------------------------------------------


PLUGIN = '''
NAME = "dummy_events"
TITLE = "dummy label recall"

def applies(entry):
    return "labels" in entry.get("reference", {})

def score_clip(record, entry, ref_dir):
    hyp = {e.label for e in record.non_linguistic_events or ()}
    if record.non_linguistic_events is None:
        return {"unscored": "events not annotated"}
    return {"hits": len(hyp & set(entry["reference"]["labels"])), "labels": len(entry["reference"]["labels"])}

def pool(per_clip):
    return {"recall": sum(c["hits"] for c in per_clip) / sum(c["labels"] for c in per_clip)}
'''


def test_plugins_are_loaded_when_present(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "uas_eval_dummy.py").write_text(PLUGIN)
    (tmp_path / "uas_eval_broken.py").write_text("import not_a_module_anywhere\n")
    (tmp_path / "uas_eval_partial.py").write_text("def applies(entry):\n    return True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    names = ("uas_eval_dummy", "uas_eval_broken", "uas_eval_partial", "uas_eval_absent")
    fams = load_families(plugin_modules=names)
    assert fams.plugins_loaded == ["uas_eval_dummy"] and fams.plugins_absent == ["uas_eval_absent"]
    assert set(fams.plugins_failed) == {"uas_eval_broken", "uas_eval_partial"}
    assert "lacks score_clip, pool" in fams.plugins_failed["uas_eval_partial"]
    assert [f.name for f in fams.families][-1] == "dummy_events"
    assert {"asr", "keywords", "language", "diarization", "speaker_count"} <= {f.name for f in fams.families}
    for name in names:
        sys.modules.pop(name, None)


def test_default_plugins_absent_are_silent() -> None:
    fams = load_families()
    assert not fams.plugins_failed
    assert set(fams.plugins_loaded) | set(fams.plugins_absent) == {
        "uas_pipeline.eval_events", "uas_pipeline.eval_attributes"}


# --- end to end ------------------------------------------------------------------------------------


@pytest.fixture()
def scored_output(tmp_path: Path) -> tuple[Path, Path]:
    """An output directory and references covering every core family."""
    refs_dir = tmp_path / "refs"
    refs_dir.mkdir()
    write_rttm(refs_dir / "meeting.rttm", "meeting", [(0.0, 10.0, "A"), (10.0, 20.0, "B")])
    manifest = write_jsonl(refs_dir / "MANIFEST.jsonl", [
        {"path": "asr/a.wav", "category": "asr",
         "reference": {"text": "The cat sat on two mats.", "language": "en"}},
        {"path": "asr/b.wav", "category": "asr", "reference": {"text": "HELLO WORLD THERE", "language": "en"}},
        {"path": "emo/de.wav", "category": "emotion", "reference": {"text": "Guten Tag.", "language": "de"}},
        {"path": "asr/multi.mp3", "category": "asr",
         "reference": {"languages_in_order": ["en", "de"], "segments_asserted": ["..."],
                       "reference_type": "SILVER: asserted"}},
        {"path": "diar/meeting.wav", "category": "diarization",
         "reference": {"rttm": "meeting.rttm", "num_speakers": 2}},
        {"path": "asr/lost.wav", "category": "asr", "reference": {"text": "never run", "language": "en"}},
        {"id": "user-clip", "audio": "../user/u.wav", "text": "twenty one", "language": "en"},
    ])
    speakers = ["SPEAKER_00"]
    records = [
        make_record("asr/a.wav", segments=[(0.0, 3.0, None, "the cat sat on 2 mats")]),
        make_record("asr/b.wav", segments=[(0.0, 3.0, None, "Hello word.")]),
        make_record("emo/de.wav", language="en", segments=[(0.0, 1.0, None, "Good tack.")]),
        make_record("asr/multi.mp3", language="en", segments=[(0.0, 1.0, None, "Permission")]),
        make_record("diar/meeting.wav#r0000", offset=0.0, duration=10.0, source="/d/meeting.wav",
                    segments=[_seg(0.0, 10.0, "SPEAKER_00")], speakers=speakers),
        make_record("diar/meeting.wav#r0001", offset=10.0, duration=10.0, source="/d/meeting.wav",
                    segments=[_seg(0.0, 10.0, "SPEAKER_00")], speakers=speakers),
        make_record("some-id", source=str((tmp_path / "user" / "u.wav").resolve()),
                    segments=[(0.0, 1.0, None, "21")]),
        make_record("not/in/refs.wav"),
    ]
    return write_output(tmp_path / "out", records, per_shard=3), manifest


def test_evaluate_figures(scored_output: tuple[Path, Path]) -> None:
    out, manifest = scored_output
    result = evaluate(out, manifest)
    doc = result.to_dict()
    join = doc["join"]
    assert join["joined_by_rule"] == {"id": 4, "regions": 1, "source": 1}
    assert join["references_without_record"] == {"count": 1, "ids": ["asr/lost.wav"]}
    assert join["records_without_reference"]["ids"] == ["not/in/refs.wav"]
    m = doc["metrics"]
    asr = m["asr"]
    assert (asr["references"], asr["with_record"], asr["scored"]) == (6, 5, 4)
    assert asr["unscored"] == {"silver or partial reference": 1}
    # a: 0 errors / 6 words; b: 2 / 3; de: 2 / 2; user: 0 / 1 ("twenty one" = "21")
    assert asr["pooled"]["errors"] == 4 and asr["pooled"]["reference_words"] == 12
    assert asr["pooled"]["wer"] == pytest.approx(4 / 12)
    assert asr["pooled"]["by_language"]["de"]["wer"] == 1.0
    lang = m["language"]["pooled"]
    assert (lang["correct"], lang["wrong"], lang["clips"]) == (3, 1, 4)
    assert lang["code_switched"] == {"clips": 1, "in_set": 1, "not_in_set": 0, "not_identified": 0}
    diar = m["diarization"]
    assert diar["scored"] == 1 and diar["clips"][0]["clip_id"] == "diar/meeting.wav"
    # stitched in file time, the two regions' speakers stay distinct: a perfect hypothesis
    assert diar["pooled"]["der"] == pytest.approx(0.0) and diar["pooled"]["jer"] == pytest.approx(0.0)
    assert m["speaker_count"]["pooled"]["accuracy"] == 1.0
    text = render_table(result, per_clip=True)
    assert "[asr] word error rate" in text and "WER 33.33%" in text and "DER 0.00%" in text
    assert "asr/b.wav: WER 66.67% (2/3)" in text


def test_eval_command(scored_output: tuple[Path, Path], tmp_path: Path,
                      capsys: pytest.CaptureFixture) -> None:
    out, manifest = scored_output
    report = tmp_path / "eval.json"
    assert main(["eval", str(out), "--references", str(manifest), "--json", str(report)]) == 0
    printed = capsys.readouterr().out
    for section in ("[asr]", "[keywords]", "[language]", "[diarization]", "[speaker_count]"):
        assert section in printed
    doc = json.loads(report.read_text())
    assert doc["metrics"]["asr"]["pooled"]["wer"] == pytest.approx(4 / 12)
    assert len(doc["metrics"]["asr"]["clips"]) == 5 and doc["normaliser"] == "uas-text-v1"
    assert main(["eval", str(out), "--references", str(manifest), "--collar", "0"]) == 0


def test_eval_command_exit_codes(scored_output: tuple[Path, Path], tmp_path: Path) -> None:
    out, manifest = scored_output
    assert main(["eval", str(tmp_path / "nope"), "--references", str(manifest)]) == 2
    (tmp_path / "empty").mkdir()
    assert main(["eval", str(tmp_path / "empty"), "--references", str(manifest)]) == 2
    assert main(["eval", str(out), "--references", str(tmp_path / "missing.jsonl")]) == 2
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"path": "x.wav", "reference": {"rttm": "missing.rttm"}}\n')
    assert main(["eval", str(out), "--references", str(bad)]) == 2
    assert main(["eval", str(out), "--references", str(manifest), "--json", str(tmp_path / "no" / "e.json")]) == 2


def test_refdata_manifest_is_read(refdata: Path) -> None:
    """The shared reference manifest loads, and each family finds the labels it is meant to."""
    refs = load_references(refdata / "MANIFEST.jsonl")
    fams = {f.name: f.impl for f in load_families().families}
    applies = {name: {r.key for r in refs.references if fam.applies(r.entry)} for name, fam in fams.items()}
    assert "asr/faster_whisper/hotwords.mp3" in applies["keywords"]
    assert "diarization/pyaudioanalysis/diarizationExample.wav" in applies["diarization"]
    assert not any(k.startswith("vad/") for k in applies["diarization"])
    assert len(applies["speaker_count"]) >= 2 and len(applies["language"]) >= 10
    for key in applies["diarization"]:
        assert len(reference_turns(refs.by_key[key].entry, refs.ref_dir)) >= 5


class _FlakyFamily:
    """A plug-in that fails on one clip and pools to NaN."""

    NAME = "flaky"

    def applies(self, entry):
        return "text" in entry["reference"]

    def score_clip(self, record, entry, ref_dir):
        if record.clip.id == "asr/b.wav":
            raise RuntimeError("boom")
        return {"n": 1}

    def pool(self, per_clip):
        return {"n": len(per_clip), "ratio": float("nan")}


def test_plugin_failures_are_reported_not_fatal(scored_output: tuple[Path, Path], tmp_path: Path) -> None:
    from uas_pipeline.evaluation.registry import Families, Family, core_families
    from uas_pipeline.evaluation.runner import write_json

    out, manifest = scored_output
    families = Families([*core_families(), Family("flaky", "flaky", _FlakyFamily())])
    result = evaluate(out, manifest, families)
    flaky = result.to_dict()["metrics"]["flaky"]
    assert flaky["unscored"] == {"error: RuntimeError: boom": 1}
    assert flaky["pooled"] == {"n": 3, "ratio": None}  # non-finite figures become null
    assert result.to_dict()["metrics"]["asr"]["scored"] == 4  # the other families are unaffected
    write_json(result, tmp_path / "e.json")
    assert json.loads((tmp_path / "e.json").read_text())["metrics"]["flaky"]["pooled"]["ratio"] is None


def test_refdata_stm_transcript_scores_low_der_against_the_rttm(refdata: Path) -> None:
    """The sample's speaker-attributed STM transcript, as a record, is a near-perfect hypothesis for its
    RTTM: exercises the real label files, the uri and the collar on real turns."""
    refs = load_references(refdata / "MANIFEST.jsonl")
    ref = refs.by_key["diarization/pyannote_sample/sample.wav"]
    names: dict[str, str] = {}
    segments = []
    for line in (refdata / ref.labels["stm"]).read_text().splitlines():
        _, _, who, start, end, text = line.split(maxsplit=5)
        speaker = names.setdefault(who, f"SPEAKER_{len(names):02d}")
        segments.append((float(start), float(end), speaker, text))
    record = make_record(ref.key, duration=30.0, segments=segments, speakers=sorted(names.values()))
    out = DiarizationError().score_clip(record, ref.entry, refs.ref_dir)
    assert out["reference_speakers"] == out["hypothesis_speakers"] == 2
    assert out["der"] < 0.10 and out["confusion_s"] < 0.1  # STM turns are tighter: mostly missed speech
    assert out["missed_s"] > out["false_alarm_s"]
    assert SpeakerCount().score_clip(record, ref.entry, refs.ref_dir)["correct"]
