"""The clip timeline picture: every panel drawn from a rich record; null parts marked, not blank."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from uas_pipeline.cli import main as cli_main
from uas_pipeline.schema import UASRecord
from uas_pipeline.timeline import PLOT_SR, ClipAudio, load_clip_audio, pitch_contour, render_timeline

from .fixtures_records import minimal_record, minimal_record_dict, rich_record
from .output_fixtures import mixed_output, write_source_audio


def _tone(seconds: float, f0_hz: float) -> np.ndarray:
    t = np.arange(int(seconds * PLOT_SR)) / PLOT_SR
    return (0.3 * np.sin(2 * np.pi * f0_hz * t) + 0.1 * np.sin(4 * np.pi * f0_hz * t)).astype(np.float32)


@pytest.mark.slow  # librosa.pyin's first call compiles with numba
def test_pitch_contour_follows_the_tone():
    samples = np.concatenate([_tone(1.0, 150.0), _tone(1.0, 240.0)])
    times, f0 = pitch_contour(samples)
    first = f0[(times > 0.2) & (times < 0.8)]
    second = f0[(times > 1.2) & (times < 1.8)]
    assert np.nanmedian(first) == pytest.approx(150.0, abs=4)
    assert np.nanmedian(second) == pytest.approx(240.0, abs=6)
    silence_times, silence_f0 = pitch_contour(np.zeros(PLOT_SR, dtype=np.float32))
    assert len(silence_times) > 0 and np.isnan(silence_f0).all()  # unvoiced: gaps, not zeros


@pytest.mark.slow
def test_rich_record_draws_every_panel(tmp_path):
    record = rich_record()
    audio = ClipAudio(np.concatenate([_tone(6.0, 210.0), _tone(6.5, 120.0)]))
    out = tmp_path / "rich.png"
    summary = render_timeline(record, audio, out)
    assert summary.panels == {p: "drawn" for p in ("waveform", "spectrogram", "speakers", "words", "pitch", "events")}
    assert "f0 contour (librosa.pyin on the audio, not in the record)" in summary.legend
    assert "segment pitch mean ± std (record)" in summary.legend
    with Image.open(out) as img:
        assert img.size == (1400, 1050)
        pixels = np.asarray(img.convert("L"))
    assert pixels.std() > 20  # a picture, not a blank page


def test_null_parts_are_marked_not_annotated(tmp_path):
    summary = render_timeline(minimal_record(), ClipAudio(None, problem="not_found: gone.wav"), tmp_path / "m.png")
    assert summary.panels["waveform"] == "no audio: not_found: gone.wav"
    for panel in ("speakers", "words", "pitch", "events"):
        assert summary.panels[panel].startswith("not annotated"), panel
    assert (tmp_path / "m.png").stat().st_size > 10_000


def test_empty_lists_are_none_found_and_reasons_come_from_provenance(tmp_path):
    doc = minimal_record_dict()
    doc["transcription"] = {"text": "", "language": None, "language_confidence": None, "segments": [],
                            "rejected": []}
    doc["non_linguistic_events"] = []
    doc["provenance"]["stages"]["diarization"] = {"backend": "pyannote", "model": None, "model_version": None,
                                                  "params": {}, "status": "skipped: disabled in recipe"}
    record = UASRecord.model_validate(doc)
    summary = render_timeline(record, ClipAudio(_tone(1.0, 200.0)), tmp_path / "e.png")
    assert summary.panels["words"] == "none found"
    assert summary.panels["events"] == "none found"
    assert summary.panels["speakers"] == "not annotated: diarization skipped: disabled in recipe"


@pytest.mark.slow
def test_plot_command_reads_the_output_and_decodes_the_region(tmp_path):
    audio = write_source_audio(tmp_path / "source.flac")
    out = mixed_output(tmp_path / "out", audio)
    clip = load_clip_audio(str(audio), 30.0, 12.5)
    assert clip.problem is None and len(clip.samples) == 12.5 * PLOT_SR
    png = tmp_path / "plot" / "rich.png"
    assert cli_main(["plot", str(out), "rich-001", "-o", str(png)]) == 0
    assert png.stat().st_size > 50_000
    assert cli_main(["plot", str(out), "no-such-clip", "-o", str(tmp_path / "x.png")]) == 1
    assert cli_main(["plot", str(tmp_path / "nothing"), "rich-001", "-o", str(tmp_path / "x.png")]) == 2
    assert not Path(tmp_path / "x.png").exists()
