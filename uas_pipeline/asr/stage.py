"""What the Whisper-family ASR stages share: parameters, device choice, batch transcription and the
conversion to the record. A backend module only loads its model and wraps it as a
:class:`~uas_pipeline.asr.decoding.WhisperBackend`."""

from __future__ import annotations

import logging
import math
from typing import Any, Literal

from pydantic import Field

from ..outputs.asr import ASR_FIELDS, AsrOutput
from ..outputs.vad import VadOutput
from ..resources import Resources
from ..schema import RejectedSegment, Segment, Transcription, Word, join_segment_texts
from ..stages.base import Stage, StageFailure, StageInput, StageParams
from .decoded import DecodedSegment
from .decoding import DecodeSettings, WhisperBackend
from .hallucination import HallucinationRules
from .language import declared_language
from .transcriber import BatchStats, ClipRequest, PackingSettings, transcribe_clips

log = logging.getLogger("uas_pipeline.asr")

DEFAULT_BATCH_WINDOWS_CPU = 4
DEFAULT_BATCH_WINDOWS_CUDA = 16


class WhisperParams(StageParams):
    """Parameters every Whisper-family backend takes (``model`` and library settings are the backend's)."""

    device: Literal["auto", "cpu", "cuda"] = "auto"
    """``auto``: CUDA when the stage reserves a GPU (``resources.num_gpus``) and CUDA is usable, else CPU."""
    beam_size: int = Field(default=5, ge=1)
    best_of: int = Field(default=5, ge=1)
    """Samples per window when decoding falls back to a temperature above 0."""
    temperature_fallback: bool = True
    """Decode again at temperatures 0.2 … 1.0 when an output is too repetitive or improbable."""
    language: str | None = None
    """ISO 639-1 code every clip is declared to be in (a manifest's per-clip ``language`` wins), or null."""
    task: Literal["transcribe", "translate"] = "transcribe"
    word_timestamps: bool = True
    initial_prompt: str | None = None
    """Text given to the decoder as preceding context in every window (style, spelling, vocabulary)."""
    hotwords: str | None = None
    """Words or phrases to favour (names, jargon), given to the decoder before the prompt."""
    min_speech_s: float = Field(default=0.2, ge=0)
    """With VAD enabled: a clip with less detected speech gets an empty transcription."""

    pack_clips: bool = True
    """Pack the speech of several clips of a batch into shared 30 s windows (one encoder pass for
    many short clips); false decodes every piece in a window of its own."""
    pack_gap_s: float = Field(default=1.0, ge=0.1, le=5.0)
    speech_pad_s: float = Field(default=0.3, ge=0, le=2.0)
    """Audio kept around each VAD speech region."""
    join_gap_s: float = Field(default=1.0, ge=0)
    """VAD speech regions closer than this are decoded as one piece, with the audio between them."""
    recheck_pieces: bool = True
    """Decode again, after the shared window, a piece whose result looks wrong (no word, a word timed in
    the gap, improbable or repetitive text, uncovered VAD speech); then alone after two tries."""
    batch_windows: int | None = Field(default=None, ge=1)
    """Windows encoded and decoded together; default 4 on CPU, 16 on CUDA."""

    reject_hallucinations: bool = True
    """Apply the hallucination rules (see :mod:`uas_pipeline.asr.hallucination`); false keeps every
    segment and leaves ``transcription.rejected`` null."""
    drop_segments_outside_speech: bool = True
    """Rule ``outside_speech`` (with VAD)."""
    no_speech_threshold: float | None = Field(default=0.6, ge=0, le=1)
    logprob_threshold: float | None = -1.0
    compression_ratio_threshold: float | None = Field(default=2.4, gt=0)
    repetition_min_repeats: float = Field(default=2.0, ge=2)
    repetition_min_words: int = Field(default=6, ge=1)
    stock_phrase_min_confidence: float = Field(default=0.5, ge=0, le=1)
    stock_phrase_min_speech: float = Field(default=0.5, ge=0, le=1)


class WhisperStage(Stage):
    """Transcript, language, timed segments and words with confidences, rejected hallucinations."""

    name = "asr"
    requires = ("audio",)
    uses = ("vad",)
    sample_rate = 16000
    Params = WhisperParams
    Output = AsrOutput
    fills = ASR_FIELDS
    default_resources = Resources(num_cpus=1.0, batch_size=16, batch_audio_s=240.0)

    _backend: WhisperBackend
    _device: str

    # --- set-up helpers for backends -------------------------------------------------------------

    def choose_device(self, cuda_available: bool, library: str) -> str:
        """The device to run on, logging one clear line when a reserved GPU cannot be used."""
        wanted = self.params.device
        if wanted == "cuda" and not cuda_available:
            raise RuntimeError(f"asr: device cuda requested but {library} sees no usable CUDA device")
        if wanted != "auto":
            return wanted
        if self.resources.num_gpus > 0:
            if cuda_available:
                return "cuda"
            log.warning("asr (%s): %s GPU reserved (resources.num_gpus) but %s sees no usable CUDA device; "
                        "running on CPU", self.backend, self.resources.num_gpus, library)
        return "cpu"

    def decode_settings(self) -> DecodeSettings:
        p = self.params
        batch = p.batch_windows or (DEFAULT_BATCH_WINDOWS_CUDA if getattr(self, "_device", "cpu") == "cuda"
                                   else DEFAULT_BATCH_WINDOWS_CPU)
        return DecodeSettings(
            beam_size=p.beam_size,
            best_of=p.best_of,
            temperatures=(0.0, 0.2, 0.4, 0.6, 0.8, 1.0) if p.temperature_fallback else (0.0,),
            compression_ratio_threshold=p.compression_ratio_threshold,
            logprob_threshold=p.logprob_threshold,
            no_speech_threshold=p.no_speech_threshold,
            word_timestamps=p.word_timestamps,
            initial_prompt=p.initial_prompt,
            hotwords=p.hotwords,
            task=p.task,
            batch_windows=batch,
        )

    def packing_settings(self) -> PackingSettings:
        p = self.params
        return PackingSettings(share_windows=p.pack_clips, gap_s=p.pack_gap_s, pad_s=p.speech_pad_s,
                               join_gap_s=p.join_gap_s, recheck=p.recheck_pieces)

    def hallucination_rules(self) -> HallucinationRules:
        p = self.params
        return HallucinationRules(
            no_speech_threshold=p.no_speech_threshold,
            logprob_threshold=p.logprob_threshold,
            outside_speech=p.drop_segments_outside_speech,
            repetition_min_repeats=p.repetition_min_repeats,
            repetition_min_words=p.repetition_min_words,
            max_compression_ratio=p.compression_ratio_threshold,
            stock_phrase_min_confidence=p.stock_phrase_min_confidence,
            stock_phrase_min_speech=p.stock_phrase_min_speech,
        )

    def run_params(self) -> dict[str, Any]:
        return {"device_resolved": getattr(self, "_device", None),
                "batch_windows_resolved": self.decode_settings().batch_windows}

    # --- annotation ------------------------------------------------------------------------------

    def process(self, batch: list[StageInput]) -> list[AsrOutput | StageFailure]:
        try:
            return self._transcribe(batch)
        except Exception as exc:  # noqa: BLE001 - isolate the clip that breaks decoding
            if len(batch) == 1:
                return [StageFailure.from_exception(exc)]
            log.warning("asr: a batch of %d clips failed (%s: %s); decoding its clips one by one",
                        len(batch), type(exc).__name__, exc)
            return [self.process([item])[0] for item in batch]

    def _transcribe(self, batch: list[StageInput]) -> list[AsrOutput]:
        requests = []
        for item in batch:
            vad = item.inputs.get("vad")
            speech = [(s.start, s.end) for s in vad.speech] if isinstance(vad, VadOutput) else None
            requests.append(ClipRequest(audio=item.audio, speech=speech,
                                        declared_language=declared_language(self.params.language,
                                                                            item.clip.hints.get("language"))))
        result = transcribe_clips(self._backend, requests, self.decode_settings(), self.packing_settings(),
                                  self.hallucination_rules() if self.params.reject_hallucinations
                                  else HallucinationRules.none(), min_speech_s=self.params.min_speech_s)
        self.last_stats: BatchStats = result.stats
        outputs = []
        for item, clip in zip(batch, result.clips, strict=True):
            segments = [s for s in (to_segment(d, item.duration_s, self.params.word_timestamps)
                                    for d in clip.segments) if s is not None]
            rejected = None
            if self.params.reject_hallucinations:
                rejected = [r for r in (to_rejected(d, reason, item.duration_s) for d, reason in clip.rejected)
                            if r is not None]
            outputs.append(AsrOutput(transcription=Transcription(
                text=join_segment_texts(segments), language=clip.language,
                language_confidence=clip.language_confidence, segments=segments, rejected=rejected)))
        return outputs


# --- conversion to the record ---------------------------------------------------------------------


def _clip01(x: float | None) -> float | None:
    if x is None or not math.isfinite(x):
        return None
    return min(1.0, max(0.0, float(x)))


def _span(start: float, end: float, lo: float, hi: float) -> tuple[float, float] | None:
    """Round to ms and clamp into [lo, hi]; None when nothing of positive length is left."""
    s = round(min(max(start, lo), hi), 3)
    e = round(min(max(end, s), hi), 3)
    if e <= s:
        e = round(min(s + 0.001, hi), 3)
    if e <= s:  # at the very end: step back instead
        s = round(max(e - 0.001, lo), 3)
    return (s, e) if e > s else None


def to_segment(d: DecodedSegment, duration: float, with_words: bool) -> Segment | None:
    span = _span(d.start, d.end, 0.0, duration)
    text = d.text.strip()
    if span is None or not text:
        return None
    words: list[Word] | None = [] if with_words else None
    if with_words:
        for w in d.words or ():
            wspan = _span(w.start, w.end, span[0], span[1])
            if wspan is not None and w.text.strip():
                words.append(Word(word=w.text.strip(), start=wspan[0], end=wspan[1],
                                  confidence=_clip01(w.probability)))
    return Segment(start=span[0], end=span[1], speaker=None, text=text, confidence=_clip01(d.confidence()),
                   words=words)


def to_rejected(d: DecodedSegment, reason: str, duration: float) -> RejectedSegment | None:
    span = _span(d.start, d.end, 0.0, duration)
    text = d.text.strip()
    if span is None or not text:
        return None
    return RejectedSegment(start=span[0], end=span[1], text=text, reason=reason)
