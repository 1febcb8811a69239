"""Both diarization backends as stages: embedding-cluster on real audio (DER against the refdata
references, speaker count, hints, cross-region linking), speaker attribution of a real transcript,
and pyannote on a tiny random-weight pipeline built here (no hub) to prove loading and conversion."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from uas_pipeline.assembly import RecordDraft
from uas_pipeline.audio import load_audio
from uas_pipeline.clips import ClipInfo
from uas_pipeline.diarization.linking import link_region_outputs
from uas_pipeline.diarization.scoring import read_rttm, score_diarization
from uas_pipeline.outputs.diarization import DiarizationOutput
from uas_pipeline.resources import Resources
from uas_pipeline.stages.base import StageInput
from uas_pipeline.stages.registry import get_backend

pytestmark = pytest.mark.slow

SAMPLE = "diarization/pyannote_sample/sample"
EXAMPLE = "diarization/pyaudioanalysis/diarizationExample"


def _clip(name: str, audio: np.ndarray, **hints) -> ClipInfo:
    return ClipInfo(id=name, source=name, duration_s=len(audio) / 16000, sample_rate=16000, channels=1, hints=hints)


def _turns(out: DiarizationOutput, offset: float = 0.0) -> list[tuple[float, float, str]]:
    return [(t.start + offset, t.end + offset, t.speaker) for t in out.turns]


@pytest.fixture(scope="module")
def stages():
    # one torch thread each, as the recipes reserve (two threads are much slower on a busy machine)
    vad = get_backend("vad", "silero")({}, Resources(num_cpus=0.5))
    vad.setup()
    diar = get_backend("diarization", "embedding-cluster")({}, Resources(num_cpus=1))
    diar.setup()
    return vad, diar


@pytest.fixture(scope="module")
def sample_run(refdata, stages):
    """sample.wav through VAD and diarization (reused by several tests)."""
    vad, diar = stages
    audio = load_audio(refdata / f"{SAMPLE}.wav")[0]
    clip = _clip("sample", audio)
    vad_out = vad.process([StageInput(clip=clip, audio=audio, sample_rate=16000)])[0]
    out = diar.process([StageInput(clip=clip, audio=audio, sample_rate=16000, inputs={"vad": vad_out})])[0]
    return audio, clip, vad_out, out


def test_embedding_cluster_on_two_speaker_sample(refdata, sample_run) -> None:
    audio, clip, vad_out, out = sample_run
    assert isinstance(out, DiarizationOutput)
    assert len(out.speakers) == 2
    score = score_diarization(read_rttm(refdata / f"{SAMPLE}.rttm"), _turns(out))
    assert score.der <= 0.16
    assert all(s.embedding is not None and len(s.embedding) == 256 for s in out.speakers)
    assert sum(s.speech_duration_s for s in out.speakers) == pytest.approx(vad_out.speech_s(), abs=2.5)
    draft = RecordDraft()
    draft.apply("vad", vad_out.record_fields())
    draft.apply("diarization", out.record_fields())
    record = draft.build(clip)
    assert record.paralinguistics.recording.num_speakers == 2
    assert [s.id for s in record.paralinguistics.speakers] == ["SPEAKER_00", "SPEAKER_01"]


def test_embedding_cluster_four_speakers_without_vad_stage(refdata, stages) -> None:
    _, diar = stages
    audio = load_audio(refdata / f"{EXAMPLE}.wav")[0]
    out = diar.process([StageInput(clip=_clip("ex", audio), audio=audio, sample_rate=16000)])[0]  # silero inside
    assert isinstance(out, DiarizationOutput)
    assert len(out.speakers) == 4
    score = score_diarization(read_rttm(refdata / f"{EXAMPLE}.derived.rttm"), _turns(out))
    assert score.der <= 0.10


def test_per_clip_hints_override_the_count(sample_run, stages) -> None:
    audio, _, vad_out, _ = sample_run
    _, diar = stages
    clip = _clip("sample", audio, num_speakers=3)
    out = diar.process([StageInput(clip=clip, audio=audio, sample_rate=16000, inputs={"vad": vad_out})])[0]
    assert len(out.speakers) == 3
    clip = _clip("sample", audio, max_speakers=1)
    out = diar.process([StageInput(clip=clip, audio=audio, sample_rate=16000, inputs={"vad": vad_out})])[0]
    assert len(out.speakers) == 1 and out.overlap == []


def test_regions_keep_speaker_ids_after_linking(refdata, stages) -> None:
    """diarizationExample cut in two regions (speakers B and C talk in both): linked by their
    embeddings, the regions' turns score like one diarization of the whole file."""
    vad, diar = stages
    audio = load_audio(refdata / f"{EXAMPLE}.wav")[0]
    cut = 21 * 16000
    outs, offsets = [], []
    for k, part in enumerate((audio[:cut], audio[cut:])):
        clip = _clip(f"ex#r{k}", part)
        v = vad.process([StageInput(clip=clip, audio=part, sample_rate=16000)])[0]
        outs.append(diar.process([StageInput(clip=clip, audio=part, sample_rate=16000, inputs={"vad": v})])[0])
        offsets.append(k * 21.0)
    reference = read_rttm(refdata / f"{EXAMPLE}.derived.rttm")
    unlinked = [t for o, off in zip(outs, offsets, strict=True) for t in _turns(o, off)]
    linked_outs = link_region_outputs(outs)
    linked = [t for o, off in zip(linked_outs, offsets, strict=True) for t in _turns(o, off)]
    assert len({t[2] for t in linked}) == 4
    assert score_diarization(reference, linked).der <= 0.12
    assert score_diarization(reference, linked).der < score_diarization(reference, unlinked).der


def test_attribution_on_real_transcript(refdata, sample_run) -> None:
    """Words of a real transcript go to the right speaker (sample.stm has who said what)."""
    audio, clip, vad_out, diar_out = sample_run
    asr = get_backend("asr", "faster-whisper")({"word_timestamps": True}, Resources(num_cpus=2))
    asr.setup()
    asr_out = asr.process([StageInput(clip=clip, audio=audio, sample_rate=16000, inputs={"vad": vad_out})])[0]
    step = get_backend("attribution", None)({})
    inputs = {"vad": vad_out, "asr": asr_out, "diarization": diar_out}
    attributed = step.process([StageInput(clip=clip, inputs=inputs)])[0]
    segments = attributed.segments
    assert len(segments) > len(asr_out.transcription.segments)  # split at speaker changes
    assert all(s.speaker in {"SPEAKER_00", "SPEAKER_01"} for s in segments)

    stm = []
    for line in (refdata / f"{SAMPLE}.stm").read_text().splitlines():
        parts = line.split()
        stm.append((float(parts[3]), float(parts[4]), parts[2]))
    votes: dict[tuple[str, str], int] = {}
    words = [(w, s.speaker) for s in segments for w in s.words or []]
    scored = []
    for w, hyp in words:
        mid = (w.start + w.end) / 2
        ref = next((spk for a, b, spk in stm if a - 0.1 <= mid <= b + 0.1), None)
        if ref is not None:
            scored.append((hyp, ref))
            votes[(hyp, ref)] = votes.get((hyp, ref), 0) + 1
    assert len(scored) >= 40
    mapping = {}
    for (hyp, ref), _ in sorted(votes.items(), key=lambda kv: -kv[1]):
        if hyp not in mapping and ref not in mapping.values():
            mapping[hyp] = ref
    accuracy = sum(mapping.get(h) == r for h, r in scored) / len(scored)
    assert accuracy >= 0.85

    draft = RecordDraft()
    for name, out in (*inputs.items(), ("attribution", attributed)):
        draft.apply(name, out.record_fields())
    record = draft.build(clip)
    assert {s.speaker for s in record.transcription.segments} <= {s.id for s in record.paralinguistics.speakers}


# --- pyannote on a tiny random-weight pipeline ------------------------------------------------------


def _save_checkpoint(model, path: Path) -> None:
    import lightning
    import torch

    checkpoint = {"state_dict": model.state_dict(), "hyper_parameters": dict(model.hparams),
                  "pytorch-lightning_version": lightning.__version__}
    model.on_save_checkpoint(checkpoint)  # pyannote's own block: versions, architecture, specifications
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(checkpoint, path)


@pytest.fixture(scope="module")
def tiny_pyannote_pipeline(tmp_path_factory) -> Path:
    """A SpeakerDiarization pipeline directory: PyanNet segmentation (powerset, 3 speakers, 2 at
    once), an x-vector embedding model, a PLDA — all random weights — and its config.yaml."""
    os.environ["PYANNOTE_METRICS_ENABLED"] = "false"
    os.environ["HF_HUB_OFFLINE"] = "1"
    import torch
    import yaml
    from pyannote.audio.core.task import Problem, Resolution, Specifications
    from pyannote.audio.models.embedding import XVectorMFCC
    from pyannote.audio.models.segmentation import PyanNet

    root = tmp_path_factory.mktemp("tiny-pyannote")
    torch.manual_seed(0)
    seg = PyanNet(lstm={"hidden_size": 16, "num_layers": 1, "bidirectional": True, "monolithic": True},
                  linear={"hidden_size": 16, "num_layers": 1})
    seg.specifications = Specifications(
        problem=Problem.MONO_LABEL_CLASSIFICATION, resolution=Resolution.FRAME, duration=5.0, min_duration=5.0,
        warm_up=(0.0, 0.0), classes=["speaker#1", "speaker#2", "speaker#3"], powerset_max_classes=2,
        permutation_invariant=True)
    seg.build()
    _save_checkpoint(seg, root / "segmentation" / "pytorch_model.bin")
    emb = XVectorMFCC(dimension=16)
    emb.specifications = Specifications(problem=Problem.REPRESENTATION, resolution=Resolution.CHUNK, duration=3.0)
    emb.build()
    _save_checkpoint(emb, root / "embedding" / "pytorch_model.bin")
    dim, lda_dim = 16, 8
    rng = np.random.default_rng(0)
    (root / "plda").mkdir()
    np.savez(root / "plda" / "xvec_transform.npz", mean1=np.zeros(dim), mean2=np.zeros(lda_dim),
             lda=np.linalg.qr(rng.normal(size=(dim, dim)))[0][:, :lda_dim])
    np.savez(root / "plda" / "plda.npz", mu=np.zeros(lda_dim), tr=np.eye(lda_dim), psi=np.linspace(2.0, 0.5, lda_dim))
    config = {
        "pipeline": {"name": "pyannote.audio.pipelines.SpeakerDiarization",
                     "params": {"segmentation": "$model/segmentation", "embedding": "$model/embedding",
                                "plda": "$model/plda", "clustering": "VBxClustering",
                                "embedding_exclude_overlap": False}},
        "params": {"segmentation": {"min_duration_off": 0.0},
                   "clustering": {"threshold": 0.6, "Fa": 0.07, "Fb": 0.8}},
    }
    (root / "config.yaml").write_text(yaml.safe_dump(config))
    return root


def test_pyannote_stage_loads_local_pipeline_and_converts(tiny_pyannote_pipeline, refdata) -> None:
    stage = get_backend("diarization", "pyannote")({"model": str(tiny_pyannote_pipeline)}, Resources(num_cpus=2))
    stage.setup()
    audio = load_audio(refdata / f"{SAMPLE}.wav")[0][6 * 16000: 12 * 16000]
    clip = _clip("sample-6s", audio)
    out = stage.process([StageInput(clip=clip, audio=audio, sample_rate=16000)])[0]
    assert isinstance(out, DiarizationOutput), out
    assert out.turns, "a random pipeline still yields turns on speech"
    assert all(0 <= t.start < t.end <= clip.duration_s + 1e-3 for t in out.turns)
    assert [s.id for s in out.speakers] == [f"SPEAKER_{i:02d}" for i in range(len(out.speakers))]
    # random weights may give NaN/zero centroids: those become "no embedding", real ones keep 16 dims
    assert all(s.embedding is None or len(s.embedding) == 16 for s in out.speakers)
    assert out.link_threshold == 0.5
    RecordDraft().apply("diarization", out.record_fields())
    assert stage.model_version().startswith("sha256:")
    # a per-clip hint reaches the pipeline
    forced = stage.process([StageInput(clip=_clip("s", audio, num_speakers=1), audio=audio, sample_rate=16000)])[0]
    assert len(forced.speakers) == 1 and forced.overlap == []


def test_from_pyannote_converts_annotation_and_embeddings() -> None:
    from pyannote.audio.pipelines.speaker_diarization import DiarizeOutput
    from pyannote.core import Annotation, Segment

    from uas_pipeline.diarization.pyannote_output import from_pyannote

    ann = Annotation()
    ann[Segment(2.0, 5.0), 0] = "B"
    ann[Segment(0.5, 2.5), 1] = "A"
    ann[Segment(4.0, 6.0), 2] = "A"
    vectors = np.array([[1.0, 0.0], [0.0, np.nan]])  # rows in ann.labels() order: A, B
    out = from_pyannote(DiarizeOutput(ann, ann, vectors), 8.0, 0.5)
    assert [(t.start, t.end, t.speaker) for t in out.turns] == [
        (0.5, 2.5, "SPEAKER_00"), (2.0, 5.0, "SPEAKER_01"), (4.0, 6.0, "SPEAKER_00")]
    assert out.speakers[0].embedding == [1.0, 0.0] and out.speakers[1].embedding is None
    assert [(o.start, o.end) for o in out.overlap] == [(2.0, 2.5), (4.0, 5.0)]
    assert out.overlap_ratio == pytest.approx(1.5 / 8.0)
    assert from_pyannote(ann, 8.0, None).speakers[0].embedding is None  # legacy: a bare Annotation


def test_pyannote_hub_id_offline_fails_at_setup() -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    stage = get_backend("diarization", "pyannote")({"model": "pyannote/speaker-diarization-community-1"})
    with pytest.raises(Exception):  # noqa: B017 - any load error: no network, no cache
        stage.setup()


def test_embedding_cluster_with_pyannote_embeddings(tiny_pyannote_pipeline, refdata) -> None:
    """The embedding-cluster backend with a configured pyannote embedding model (random weights:
    only loading and the plumbing are checked)."""
    stage = get_backend("diarization", "embedding-cluster")(
        {"embedding": "pyannote", "model": str(tiny_pyannote_pipeline / "embedding")}, Resources(num_cpus=2))
    stage.setup()
    audio = load_audio(refdata / f"{SAMPLE}.wav")[0][: 15 * 16000]
    out = stage.process([StageInput(clip=_clip("s", audio), audio=audio, sample_rate=16000)])[0]
    assert isinstance(out, DiarizationOutput), out
    assert out.speakers and all(len(s.embedding) == 16 for s in out.speakers)
    assert stage.model_version().startswith("sha256:")
