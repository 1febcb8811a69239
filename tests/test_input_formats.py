"""Inputs made by other tools: lhotse manifests, saved Hugging Face datasets, Parquet datasets."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import soundfile as sf

from uas_pipeline.audio import load_audio
from uas_pipeline.input_formats import InputFormatError, detect_format, iter_entries
from uas_pipeline.inputs import InputError, list_clips

from .conftest import DEMO_DIR

EXTS = ["wav", "flac", "ogg"]
SPEECH_1 = DEMO_DIR / "speech_01.flac"
SPEECH_2 = DEMO_DIR / "speech_02.flac"


@pytest.fixture()
def audio_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "audio"
    folder.mkdir()
    shutil.copy(SPEECH_1, folder / "a.flac")
    shutil.copy(SPEECH_2, folder / "b.flac")
    return folder


def test_lhotse_recording_set(tmp_path, audio_dir):
    from lhotse import Recording, RecordingSet

    recs = RecordingSet.from_recordings([Recording.from_file(audio_dir / "a.flac", recording_id="rec-a"),
                                         Recording.from_file(audio_dir / "b.flac", recording_id="rec-b")])
    manifest = tmp_path / "recordings.jsonl.gz"
    recs.to_file(manifest)
    assert detect_format(manifest) == "lhotse_recordings"
    refs = list(list_clips(str(manifest), EXTS))
    assert [r.id for r in refs] == ["rec-a", "rec-b"]
    assert refs[0].source == str((audio_dir / "a.flac").resolve())
    assert not refs[0].region and refs[0].offset_s == 0.0 and refs[0].duration_s is None


def test_lhotse_cut_set_regions_and_relative_paths(tmp_path, audio_dir):
    from lhotse import CutSet, Recording

    rec = Recording.from_file(audio_dir / "a.flac", recording_id="rec-a")
    whole = rec.to_cut()
    part = rec.to_cut().truncate(offset=0.5, duration=2.0)
    part.id = "cut-part"
    manifest = audio_dir / "cuts.jsonl.gz"
    CutSet.from_cuts([whole, part]).to_file(manifest)
    # lhotse writes the path it was given; make it relative to check the lookup beside the manifest
    with gzip.open(manifest, "rt") as handle:
        lines = [json.loads(x) for x in handle]
    for line in lines:
        line["recording"]["sources"][0]["source"] = "a.flac"
    with gzip.open(manifest, "wt") as f:
        f.write("".join(json.dumps(x) + "\n" for x in lines))

    assert detect_format(manifest) == "lhotse_cuts"
    refs = {r.id: r for r in list_clips(str(manifest), EXTS)}
    assert refs[whole.id].source == str((audio_dir / "a.flac").resolve())
    assert not refs[whole.id].region and refs[whole.id].duration_s is None
    cut = refs["cut-part"]
    assert cut.region and cut.offset_s == 0.5 and cut.duration_s == 2.0
    samples, _ = load_audio(cut.source, cut.offset_s, cut.duration_s)
    assert abs(len(samples) / 16000 - 2.0) < 0.01


def test_lhotse_supervisions_and_mixed_cuts_are_refused(tmp_path, audio_dir):
    from lhotse import CutSet, Recording, SupervisionSegment, SupervisionSet

    sups = tmp_path / "supervisions.jsonl"
    SupervisionSet.from_segments([SupervisionSegment("s1", "rec-a", 0.0, 1.0, text="hi")]).to_file(sups)
    with pytest.raises(InputError, match="SupervisionSet"):
        list(list_clips(str(sups), EXTS))

    rec = Recording.from_file(audio_dir / "a.flac", recording_id="rec-a")
    mixed = rec.to_cut().pad(duration=10.0)
    cuts = tmp_path / "mixed.jsonl"
    CutSet.from_cuts([mixed]).to_file(cuts)
    with pytest.raises(InputError, match="MixedCut is not supported"):
        list(list_clips(str(cuts), EXTS))


def test_hf_dataset_on_disk_materialises_embedded_audio(tmp_path, audio_dir):
    from datasets import Audio, Dataset

    saved = tmp_path / "hf"
    ds = Dataset.from_dict({"id": ["x/1", "x/2"], "audio": [str(audio_dir / "a.flac"), str(audio_dir / "b.flac")],
                            "text": ["one", "two"]}).cast_column("audio", Audio())
    ds.save_to_disk(str(saved))  # datasets embeds the audio bytes on save
    assert detect_format(saved) == "hf_disk"
    cache = tmp_path / "cache"
    refs = list(list_clips(str(saved), EXTS, cache_dir=cache))
    assert [r.id for r in refs] == ["x/1", "x/2"]
    for ref, original in zip(refs, ("a.flac", "b.flac"), strict=True):
        cached = Path(ref.source)
        assert cached.parent == cache.resolve() and cached.suffix == ".flac"
        assert cached.read_bytes() == (audio_dir / original).read_bytes()
    mtime = Path(refs[0].source).stat().st_mtime_ns
    again = list(list_clips(str(saved), EXTS, cache_dir=cache))  # resuming reuses the cached files
    assert [r.source for r in again] == [r.source for r in refs]
    assert Path(refs[0].source).stat().st_mtime_ns == mtime


def test_hf_dataset_dict_prefixes_splits(tmp_path, audio_dir):
    from datasets import Audio, Dataset, DatasetDict

    part = Dataset.from_dict({"audio": [str(audio_dir / "a.flac")]}).cast_column("audio", Audio())
    saved = tmp_path / "hfdict"
    DatasetDict({"train": part, "test": part}).save_to_disk(str(saved))
    refs = list(list_clips(str(saved), EXTS, cache_dir=tmp_path / "cache"))
    assert [r.id for r in refs] == ["train/000000", "test/000000"]
    assert all(Path(r.source).is_file() for r in refs)


def test_parquet_with_paths_bytes_and_arrays(tmp_path, audio_dir):
    folder = tmp_path / "pq"
    (folder / "data").mkdir(parents=True)
    pq.write_table(pa.table({"audio_filepath": ["../../audio/a.flac", str(audio_dir / "b.flac")],
                             "offset_s": [0.25, None], "duration_s": [1.5, None]}),
                   folder / "data" / "train-00000.parquet")
    # {bytes, path} structs (datasets.Audio storage) in a second file
    struct = pa.array([{"bytes": (audio_dir / "a.flac").read_bytes(), "path": "a.flac"}],
                      type=pa.struct([("bytes", pa.binary()), ("path", pa.string())]))
    pq.write_table(pa.table({"audio": struct}), folder / "data" / "train-00001.parquet")
    assert detect_format(folder) == "parquet"
    refs = list(list_clips(str(folder), EXTS, cache_dir=tmp_path / "cache"))
    assert [r.id for r in refs] == ["000000", "000001", "000002"]
    assert refs[0].source == str((audio_dir / "a.flac").resolve())
    assert refs[0].region and refs[0].offset_s == 0.25 and refs[0].duration_s == 1.5
    assert refs[1].source == str((audio_dir / "b.flac").resolve()) and not refs[1].region
    assert Path(refs[2].source).read_bytes() == (audio_dir / "a.flac").read_bytes()

    arrays = tmp_path / "arrays.parquet"
    tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(8000) / 8000)).tolist()
    pq.write_table(pa.table({"id": ["tone"], "audio": [{"array": tone, "sampling_rate": 8000}]}), arrays)
    (entry,) = iter_entries(arrays, cache_dir=tmp_path / "cache2")
    data, rate = sf.read(entry.source)
    assert entry.id == "tone" and rate == 8000 and len(data) == 8000


def test_parquet_without_audio_column_and_audio_folders(tmp_path, audio_dir):
    bad = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"text": ["no audio here"]}), bad)
    with pytest.raises(InputError, match="no audio column"):
        list(list_clips(str(bad), EXTS, cache_dir=tmp_path / "c"))
    with pytest.raises(InputFormatError):
        list(iter_entries(bad, cache_dir=tmp_path / "c"))
    # a folder with audio files stays a folder of audio, even with a stray Parquet file inside
    pq.write_table(pa.table({"x": [1]}), audio_dir / "notes.parquet")
    assert detect_format(audio_dir) == "directory"
    assert [r.id for r in list_clips(str(audio_dir), EXTS)] == ["a.flac", "b.flac"]
