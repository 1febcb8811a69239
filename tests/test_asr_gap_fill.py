"""The ASR stage re-transcribes speech no segment covers (Whisper sometimes stops early)."""

from __future__ import annotations

import pytest

from uas_pipeline.outputs.common import Span
from uas_pipeline.schema import Segment
from uas_pipeline.stages.asr_faster_whisper import _uncovered


def _seg(start: float, end: float) -> Segment:
    return Segment(start=start, end=end, speaker=None, text="x", confidence=None, words=None)


def test_uncovered_speech_stretches() -> None:
    speech = [Span(start=0.0, end=5.0), Span(start=5.3, end=9.0), Span(start=12.0, end=12.8), Span(start=20, end=24)]
    segments = [_seg(0.2, 4.0), _seg(6.0, 7.5)]
    # 4.0-6.0 (pause under 0.5 s joined), 7.5-9.0; 12-12.8 is too short; 20-24 untouched
    assert _uncovered(speech, segments, 1.0) == [(4.0, 6.0), (7.5, 9.0), (20, 24)]
    assert _uncovered(speech, segments, 3.0) == [(20, 24)]
    assert _uncovered([], segments, 1.0) == []


@pytest.mark.slow
def test_transcript_reaches_the_end_of_diarization_example(refdata) -> None:
    from uas_pipeline.audio import load_audio
    from uas_pipeline.clips import ClipInfo
    from uas_pipeline.stages.base import StageInput
    from uas_pipeline.stages.registry import get_backend

    audio = load_audio(refdata / "diarization/pyaudioanalysis/diarizationExample.wav")[0]
    clip = ClipInfo(id="ex", source="ex", duration_s=len(audio) / 16000, sample_rate=16000, channels=1)
    vad = get_backend("vad", "silero")({})
    vad.setup()
    v = vad.process([StageInput(clip=clip, audio=audio, sample_rate=16000)])[0]
    asr = get_backend("asr", "faster-whisper")({})  # fill_speech_gaps_s: 1.0 by default
    asr.setup()
    segments = asr.process([StageInput(clip=clip, audio=audio, sample_rate=16000, inputs={"vad": v})])[0].transcription.segments
    # one pass of Whisper returns nothing after 34.6 s; speaker D (34.4-42 s) must be transcribed
    assert segments[-1].end >= 40.0
    starts = [s.start for s in segments]
    assert starts == sorted(starts)
