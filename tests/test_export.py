"""Exports (lhotse, JSONL, Hugging Face) and the Parquet output read by datasets, polars and duckdb,
on a hand-made output holding every v1.1 field, null parts, a 1.0 record and ledger rows."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import soundfile as sf

from uas_pipeline.cli import main as cli_main
from uas_pipeline.export import export_hf, export_jsonl, export_lhotse, flat_fields
from uas_pipeline.schema import UASRecord

from .output_fixtures import SOURCE_S, SOURCE_SR, mixed_output, write_source_audio

# The queries shown in docs/ecosystem.md and the README ("clips with a female speaker with a high
# pitch and a dog bark, over 5 s"); kept here verbatim apart from the path.
DUCKDB_QUERY = """
SELECT clip_id, duration_s
FROM read_parquet('{out}/*.parquet')
WHERE duration_s > 5
  AND list_contains(event_labels, 'dog')
  AND len(list_filter(
        CAST(json_extract(uas, '$.paralinguistics.speakers[*]') AS JSON[]),
        lambda s: s->>'$.gender.label' = 'female' AND s->>'$.pitch.level' IN ('high', 'very_high'))) > 0
ORDER BY clip_id
"""


@pytest.fixture(scope="module")
def output(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("export")
    return mixed_output(base / "out", write_source_audio(base / "source.flac"))


def _records(out: Path) -> dict[str, UASRecord]:
    import pyarrow.dataset as ds

    table = ds.dataset(sorted(map(str, out.glob("*.parquet"))), format="parquet").to_table(columns=["clip_id", "uas"])
    return {cid: UASRecord.from_json(text) for cid, text in zip(*(c.to_pylist() for c in table.columns), strict=True)}


@pytest.mark.slow
def test_lhotse_export_loads_with_every_attribute(output, tmp_path):
    import lhotse

    assert cli_main(["export", str(output), "--to", "lhotse", str(tmp_path / "lh")]) == 0
    cuts = lhotse.load_manifest(tmp_path / "lh" / "cuts.jsonl.gz")
    assert isinstance(cuts, lhotse.CutSet)
    by_id = {c.id: c for c in cuts}
    assert set(by_id) == set(_records(output))

    region = by_id["rich-001"]
    assert region.start == 30.0 and region.duration == 12.5
    assert region.recording.sampling_rate == SOURCE_SR and region.recording.duration == pytest.approx(SOURCE_S)
    assert region.num_channels == 2
    first, second = region.supervisions
    assert (first.text, first.speaker, first.language, first.gender) == (
        "Grüße aus München.", "SPEAKER_00", "de", "female")
    assert second.gender == "male" and second.start == 5.0 and second.duration == 4.75
    assert [a.symbol for a in first.alignment["word"]] == ["Grüße", "aus", "München."]
    assert first.custom["segment"]["emotion"]["label"] == "happy"
    assert first.custom["segment"]["accent"] is None  # null stays null
    assert first.custom["speaker_profile"]["pitch"] == {"mean_hz": 210.5, "std_hz": 21.5, "level": "high"}
    assert first.custom["speaker_profile"]["voice_quality"]["hnr_db"] == 14.25
    assert [e["label"] for e in region.custom["events"]] == ["music", "laughter", "dog"]
    assert region.custom["recording"]["quality"] == {"sig": 3.5, "bak": 4.125, "ovrl": 3.25}
    assert region.custom["rejected_segments"][0]["reason"] == "stock_phrase_outside_speech"
    audio = region.load_audio()
    assert audio.shape == (2, round(12.5 * SOURCE_SR))

    assert by_id["rich-003"].custom["events"] == []  # annotated, none found
    minimal = by_id["clip-min"]
    assert minimal.supervisions == [] and minimal.start == 0.0
    assert minimal.custom["transcription_annotated"] is False
    assert minimal.custom["events"] is None and minimal.custom["recording"] is None
    assert by_id["legacy-1.0"].custom["uas_version"] == "1.0"


def test_jsonl_export_is_the_canonical_records(output, tmp_path):
    target = tmp_path / "records.jsonl.gz"
    assert export_jsonl(output, target) == 5
    import gzip

    with gzip.open(target, "rt", encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    records = _records(output)
    assert {UASRecord.from_json(line).clip.id for line in lines} == set(records)
    for line in lines:
        assert line == records[json.loads(line)["clip"]["id"]].to_json()


@pytest.mark.slow
def test_hf_export_has_audio_and_flattened_fields(output, tmp_path):
    from datasets import Audio, load_from_disk

    assert export_hf(output, tmp_path / "hf") == 5
    ds = load_from_disk(str(tmp_path / "hf"))
    assert isinstance(ds.features["audio"], Audio)
    rows = {r["clip_id"]: r for r in ds.cast_column("audio", Audio(decode=False))}
    rich = rows["rich-001"]
    assert rich["speaker_genders"] == ["female", "male"] and rich["speaker_pitch_levels"] == ["high", "medium"]
    assert rich["event_labels"] == ["dog", "laughter", "music"] and rich["background"] == ["music"]
    assert rich["quality_ovrl"] == 3.25 and rich["num_speakers"] == 2
    assert UASRecord.from_json(rich["uas"]).clip.id == "rich-001"
    data, rate = sf.read(io.BytesIO(rich["audio"]["bytes"]))  # a region: its own FLAC
    assert rate == SOURCE_SR and abs(len(data) / rate - 12.5) < 0.01
    whole = rows["rich-002"]["audio"]["bytes"]  # a whole file: the source file, embedded on save
    assert whole == (output.parent / "source.flac").read_bytes()
    minimal = rows["clip-min"]
    assert minimal["text"] is None and minimal["speaker_genders"] is None and minimal["event_labels"] is None
    assert rows["rich-003"]["event_labels"] == [] and rows["rich-003"]["num_events"] == 0


def test_flat_fields_keep_not_annotated_apart_from_empty(output):
    records = _records(output)
    assert flat_fields(records["clip-min"])["num_events"] is None
    assert flat_fields(records["rich-003"])["num_events"] == 0


@pytest.mark.slow
def test_parquet_output_loads_in_datasets_polars_and_duckdb(output):
    import datasets
    import duckdb
    import polars as pl

    expected = sorted(
        cid for cid, r in _records(output).items()
        if r.clip.duration_s > 5 and any(e.label == "dog" for e in r.non_linguistic_events or ())
        and any(s.gender and s.gender.label == "female" and s.pitch and s.pitch.level in ("high", "very_high")
                for s in (r.paralinguistics.speakers or ()) if r.paralinguistics)
    )
    assert expected == ["rich-001"]  # the fixture has one clip of each kind that almost matches

    hf = datasets.load_dataset("parquet", data_files=str(output / "*.parquet"), split="train")
    assert hf.num_rows == 5 and "uas" in hf.column_names
    hits = hf.filter(lambda r: r["duration_s"] > 5 and "dog" in (r["event_labels"] or [])
                     and any(s["gender"] and s["gender"]["label"] == "female" and s["pitch"]["level"] in ("high", "very_high")
                             for s in (json.loads(r["uas"])["paralinguistics"] or {}).get("speakers") or []))
    assert sorted(hits["clip_id"]) == expected

    speaker = pl.Struct({"gender": pl.Struct({"label": pl.String}), "pitch": pl.Struct({"level": pl.String})})
    record = pl.Struct({"paralinguistics": pl.Struct({"speakers": pl.List(speaker)})})
    found = (
        pl.scan_parquet(output / "*.parquet")
        .filter(pl.col("duration_s") > 5, pl.col("event_labels").list.contains("dog"))
        .with_columns(speakers=pl.col("uas").str.json_decode(record)
                      .struct.field("paralinguistics").struct.field("speakers"))
        .filter(pl.col("speakers").list.eval(
            (pl.element().struct.field("gender").struct.field("label") == "female")
            & pl.element().struct.field("pitch").struct.field("level").is_in(["high", "very_high"])).list.any())
        .select("clip_id").collect()
    )
    assert sorted(found["clip_id"].to_list()) == expected

    rows = duckdb.sql(DUCKDB_QUERY.format(out=output)).fetchall()
    assert [r[0] for r in rows] == expected
    hours = dict(duckdb.sql(f"SELECT language, count(*) FROM '{output}/*.parquet' GROUP BY ALL").fetchall())
    assert hours == {"de": 4, None: 1}


def test_export_cli_errors(tmp_path):
    assert cli_main(["export", str(tmp_path / "missing"), "--to", "jsonl", str(tmp_path / "x.jsonl")]) == 2
    with pytest.raises(SystemExit):
        cli_main(["export", str(tmp_path), "--to", "csv", str(tmp_path / "x")])


def test_lhotse_export_to_a_named_file(output, tmp_path):
    import lhotse

    target = tmp_path / "my_cuts.jsonl"
    assert export_lhotse(output, target) == 5
    assert len(lhotse.load_manifest(target)) == 5
