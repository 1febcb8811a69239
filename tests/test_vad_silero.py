"""silero VAD run on a batch of clips at once gives what silero-vad's own one-clip loop gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from uas_pipeline.audio import load_audio
from uas_pipeline.clips import ClipInfo
from uas_pipeline.stages.base import StageInput
from uas_pipeline.stages.vad_silero import FRAME, SileroVadStage, length_groups

DEMO = Path(__file__).resolve().parents[1] / "uas_pipeline" / "data" / "demo"


def test_length_groups_bound_padding_and_size() -> None:
    frames = [10, 3, 25, 4, 11, 0, 6]
    groups = list(length_groups(frames, max_samples=3 * 11 * FRAME))
    assert sorted(i for g in groups for i in g) == list(range(len(frames)))
    for g in groups:
        lengths = [frames[i] for i in g]
        assert max(lengths) <= 2 * max(min(lengths), 1)
        assert len(g) * max(lengths) * FRAME <= 3 * 11 * FRAME or len(g) == 1
    assert [[frames[i] for i in g] for g in groups] == [[0], [3, 4, 6], [10, 11], [25]]


def _item(name: str, audio: np.ndarray) -> StageInput:
    clip = ClipInfo(id=name, source=name, duration_s=len(audio) / 16000, sample_rate=16000, channels=1)
    return StageInput(clip=clip, audio=audio, sample_rate=16000, inputs={})


@pytest.mark.slow
def test_a_batch_gives_silero_vads_own_regions() -> None:
    import silero_vad
    import torch

    audios = {p.name: load_audio(p)[0] for p in sorted(DEMO.iterdir()) if p.suffix in (".flac", ".ogg", ".wav")}
    audios["speech_01_cut"] = audios["speech_01.flac"][: 16000 + 100]  # a length that is no multiple of 512
    stage = SileroVadStage({})
    stage.setup()
    outputs = stage.process([_item(n, a) for n, a in audios.items()])
    model = silero_vad.load_silero_vad()
    regions = 0
    for (name, audio), out in zip(audios.items(), outputs, strict=True):
        own = silero_vad.get_speech_timestamps(torch.from_numpy(audio.copy()), model, sampling_rate=16000,
                                               threshold=0.5, min_speech_duration_ms=250,
                                               min_silence_duration_ms=100, speech_pad_ms=30)
        expected = [(s["start"] / 16000, min(s["end"] / 16000, len(audio) / 16000)) for s in own]
        got = [(s.start, s.end) for s in out.speech]
        assert len(got) == len(expected), name
        for (a, b), (c, d) in zip(got, expected, strict=True):
            assert abs(a - c) <= 0.033 and abs(b - d) <= 0.033, (name, got, expected)
        regions += len(got)
    assert regions >= 8  # the demo clips hold speech
    assert outputs[[*audios].index("silence_01.flac")].speech == []
