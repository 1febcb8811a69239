"""Measured paralinguistic attributes (no learned model): pitch, speaking rate, loudness, voice
quality and arousal per speaker and per transcript segment; SNR and DNSMOS quality per recording.

Units: each transcript segment (``transcription.segments``, speaker-attributed when diarization
ran) and each speaker of ``paralinguistics.speakers``, whose speech is their diarization turns
minus overlapped speech (their segments when no turns are known). Without diarization only
segments are measured; without ASR only speakers; with neither, only the recording values.
The recording SNR uses the VAD's speech regions when a VAD ran (energy otherwise), and DNSMOS
scores the whole clip. See ``docs/paralinguistics.md``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from ..modelfiles import package_version
from ..outputs.paralinguistics import PARALINGUISTICS_FIELDS, Measures, ParalinguisticsOutput
from ..outputs.vad import VadOutput
from ..resources import Resources
from ..schema.models import RecordingQuality, Segment
from .base import LocalPath, Stage, StageFailure, StageInput, StageParams


class MeasuredParams(StageParams):
    pitch_method: Literal["pyin", "crepe", "praat"] = "pyin"
    crepe_model: Literal["tiny", "full"] = "tiny"
    fmin_hz: float = Field(default=50.0, gt=0)
    fmax_hz: float = Field(default=600.0, gt=0)
    hop_s: float = Field(default=0.01, gt=0, le=0.05)
    octave_guard: bool = True
    max_pause_s: float = Field(default=0.5, ge=0)
    """Pauses between words longer than this do not count as speaking time."""
    voice_quality_max_s: float = Field(default=60.0, gt=0)
    """At most this much of a speaker's speech is analysed with Praat for HNR/jitter/shimmer."""
    quality: bool = True
    """Score DNSMOS P.835 (``paralinguistics.recording.quality``)."""
    quality_max_windows: int = Field(default=8, ge=1)
    level_edges: Annotated[str, LocalPath()] = "bundled:levels-v1"
    """Bin edges of the levels: ``bundled:levels-v1`` or a JSON file in that format."""

    @model_validator(mode="after")
    def _range(self) -> MeasuredParams:
        if self.fmin_hz >= self.fmax_hz:
            raise ValueError("fmin_hz must be below fmax_hz")
        return self


class MeasuredParalinguistics(Stage):
    """Signal measurements per speaker, per segment and per recording."""

    name = "paralinguistics"
    backend = "measured"
    requires = ("audio",)
    uses = ("vad", "asr", "diarization", "attribution")
    sample_rate = 16000
    Params = MeasuredParams
    Output = ParalinguisticsOutput
    fills = PARALINGUISTICS_FIELDS
    default_resources = Resources(num_cpus=1, batch_size=4)
    extra = "paralinguistics"
    needs_modules = ("librosa", "parselmouth", "pyloudnorm", "onnxruntime", "speechmos")

    def skipped_fields(self) -> dict[str, str]:
        return {} if self.params.quality else {"paralinguistics.recording.quality": "quality: false in recipe"}

    def setup(self) -> None:
        from ..paralinguistics.levels import load_edges
        from ..paralinguistics.measure import MeasureSettings

        p = self.params
        self._edges = load_edges(p.level_edges)
        self._settings = MeasureSettings(
            pitch_method=p.pitch_method, crepe_model=p.crepe_model, fmin_hz=p.fmin_hz, fmax_hz=p.fmax_hz,
            hop_s=p.hop_s, octave_guard=p.octave_guard, max_pause_s=p.max_pause_s,
            voice_quality_max_s=p.voice_quality_max_s)
        self._dnsmos = None
        if p.quality:
            from ..paralinguistics.quality import Dnsmos

            self._dnsmos = Dnsmos(threads=self.torch_threads)
        if p.pitch_method == "crepe":
            import torch

            torch.set_num_threads(self.torch_threads)

    def model_name(self) -> str | None:
        return "DNSMOS P.835 sig_bak_ovr.onnx (speechmos)" if self.params.quality else None

    def model_version(self) -> str | None:
        versions = [f"{d}=={package_version(d)}" for d in ("librosa", "praat-parselmouth", "pyloudnorm", "speechmos")
                    if package_version(d)]
        return ", ".join(versions) or None

    def run_params(self) -> dict[str, str]:
        edges = getattr(self, "_edges", None)
        return {"level_edges_id": edges.ident} if edges is not None else {}

    def process(self, batch: list[StageInput]) -> list[ParalinguisticsOutput | StageFailure]:
        out: list[ParalinguisticsOutput | StageFailure] = []
        for item in batch:
            try:
                out.append(self._measure(item))
            except (ValueError, RuntimeError, FloatingPointError) as exc:
                out.append(StageFailure.from_exception(exc))
        return out

    def _measure(self, item: StageInput) -> ParalinguisticsOutput:
        from ..paralinguistics.measure import ClipMeasurer
        from ..paralinguistics.snr import estimate_snr_db

        audio, sr = item.audio, self.sample_rate
        partial = item.record()
        transcription = partial.transcription
        segments: list[Segment] | None = transcription.segments if transcription is not None else None
        language = (transcription.language if transcription is not None else None) or item.clip.hints.get("language")
        speaker_ids = ([s.id for s in partial.paralinguistics.speakers]
                       if partial.paralinguistics is not None and partial.paralinguistics.speakers is not None else None)
        segment_units = [_segment_unit(s) for s in segments] if segments is not None else None
        speaker_units = (_speaker_units(speaker_ids, segments or [], item.inputs.get("diarization"))
                         if speaker_ids is not None else None)
        regions = [r for u in (segment_units or []) + list((speaker_units or {}).values()) for r in u.regions]
        measurer = ClipMeasurer(audio, sr, self._settings, self._edges, regions)
        seg_measures = [measurer.measure(u, language) for u in segment_units] if segment_units is not None else None
        spk_measures = ({k: measurer.measure(u, language) for k, u in speaker_units.items()}
                        if speaker_units is not None else None)
        vad = item.inputs.get("vad")
        speech = [(s.start, s.end) for s in vad.speech] if isinstance(vad, VadOutput) else None
        snr = estimate_snr_db(audio, sr, speech)
        quality = None
        if self._dnsmos is not None:
            scores = self._dnsmos.score(audio, sr, max_windows=self.params.quality_max_windows)
            if scores is not None:
                quality = RecordingQuality(sig=scores.sig, bak=scores.bak, ovrl=scores.ovrl)
        return ParalinguisticsOutput(
            speakers=spk_measures,
            segments=seg_measures,
            segment_speakers=[s.speaker for s in segments] if segments is not None else None,
            snr_db=snr,
            quality=quality,
            level_edges=self.params.level_edges,
        )


def _segment_unit(seg: Segment):
    from ..paralinguistics.measure import Unit

    words = [(w.start, w.end) for w in seg.words] if seg.words else None
    n_words = len(seg.words) if seg.words else len(seg.text.split())
    return Unit(regions=[(seg.start, seg.end)], words=words, n_words=n_words if seg.text.strip() else None,
                text=seg.text)


def _speaker_units(speaker_ids: list[str], segments: list[Segment], diarization) -> dict[str, object]:
    """Each speaker's unit: speech from :func:`speaker_regions`, words and text from their segments."""
    from ..paralinguistics.measure import Unit
    from ..paralinguistics.units import speaker_regions

    units = {}
    regions = speaker_regions(speaker_ids, segments, diarization)
    for sid in speaker_ids:
        own = [s for s in segments if s.speaker == sid]
        words = [(w.start, w.end) for s in own for w in (s.words or ())]
        has_words = bool(own) and all(s.words for s in own if s.text.strip())
        text = " ".join(s.text.strip() for s in own if s.text.strip())
        units[sid] = Unit(regions=regions[sid], words=words if has_words else None,
                          n_words=(len(words) if has_words else len(text.split())) if own else None,
                          text=text or None)
    return units


__all__ = ["MeasuredParalinguistics", "MeasuredParams", "Measures"]
