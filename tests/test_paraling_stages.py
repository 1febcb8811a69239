"""The paralinguistic stages end to end without Ray: typed inputs in, assembled records out."""

from __future__ import annotations

import numpy as np
import pytest

from tests.paraling_signals import SR, espeak, monotone
from uas_pipeline.assembly import RecordDraft
from uas_pipeline.clips import ClipInfo
from uas_pipeline.outputs.asr import AsrOutput
from uas_pipeline.outputs.common import Span
from uas_pipeline.outputs.diarization import DiarizationOutput, DiarizedSpeaker, SpeakerTurn
from uas_pipeline.outputs.vad import VadOutput
from uas_pipeline.schema import Segment, Transcription, Word
from uas_pipeline.stages.base import StageInput


@pytest.fixture(scope="module")
def dialogue():
    """Two voices: a low one (speaker 0, F0 100 Hz) then a high one (speaker 1, 220 Hz), with
    hand-made ASR segments and diarization turns that match the audio."""
    a = monotone(espeak("The weather is lovely today.", speed_wpm=150), 100.0)
    b = monotone(espeak("I think it will rain tomorrow.", voice="en-us+f3", speed_wpm=150), 220.0)
    gap = np.zeros(SR // 2, dtype=np.float32)
    audio = np.concatenate([gap, a, gap, b, gap]).astype(np.float32)
    t_a = (0.5, 0.5 + len(a) / SR)
    t_b = (t_a[1] + 0.5, t_a[1] + 0.5 + len(b) / SR)

    def words(text, span):
        toks = text.split()
        step = (span[1] - span[0]) / len(toks)
        return [Word(word=w, start=span[0] + i * step, end=span[0] + (i + 1) * step, confidence=0.9)
                for i, w in enumerate(toks)]

    segs = [Segment(start=t_a[0], end=t_a[1], speaker=None, text="The weather is lovely today.", confidence=0.9,
                    words=words("The weather is lovely today.", t_a)),
            Segment(start=t_b[0], end=t_b[1], speaker=None, text="I think it will rain tomorrow.", confidence=0.9,
                    words=words("I think it will rain tomorrow.", t_b))]
    asr = AsrOutput(transcription=Transcription(text=" ".join(s.text for s in segs), language="en",
                                                language_confidence=1.0, segments=segs, rejected=None))
    diar = DiarizationOutput(
        turns=[SpeakerTurn(start=t_a[0], end=t_a[1], speaker="SPEAKER_00"),
               SpeakerTurn(start=t_b[0], end=t_b[1], speaker="SPEAKER_01")],
        speakers=[DiarizedSpeaker(id="SPEAKER_00", speech_duration_s=t_a[1] - t_a[0]),
                  DiarizedSpeaker(id="SPEAKER_01", speech_duration_s=t_b[1] - t_b[0])],
        overlap=[], overlap_ratio=0.0)
    vad = VadOutput(speech=[Span(start=t_a[0], end=t_a[1]), Span(start=t_b[0], end=t_b[1])],
                    speech_ratio=((t_a[1] - t_a[0]) + (t_b[1] - t_b[0])) / (len(audio) / SR))
    from uas_pipeline.stages.attribution import SpeakerAttribution

    attributed = SpeakerAttribution().process([StageInput(clip=_clip(audio), inputs={"asr": asr, "diarization": diar})])[0]
    return audio, {"vad": vad, "asr": asr, "diarization": diar, "attribution": attributed}


def _clip(audio) -> ClipInfo:
    return ClipInfo(id="dialogue", source="dialogue.wav", duration_s=len(audio) / SR, sample_rate=SR, channels=1)


def _run(stage, audio, inputs):
    stage.setup()
    return stage.process([StageInput(clip=_clip(audio), audio=audio, sample_rate=SR, inputs=inputs)])[0]


def _record(audio, outputs: dict):
    draft = RecordDraft()
    for name, out in outputs.items():
        draft.apply(name, out.record_fields())
    return draft.build(_clip(audio))


@pytest.fixture(scope="module")
def measured(dialogue):
    from uas_pipeline.stages.paralinguistics_measured import MeasuredParalinguistics

    audio, inputs = dialogue
    return _run(MeasuredParalinguistics({"pitch_method": "praat"}), audio, inputs)


@pytest.mark.slow
def test_measured_stage_fills_speakers_segments_and_recording(dialogue, measured):
    audio, inputs = dialogue
    record = _record(audio, {**inputs, "paralinguistics": measured})
    para = record.paralinguistics
    low, high = para.speakers
    assert abs(low.pitch.mean_hz - 100) < 3 and abs(high.pitch.mean_hz - 220) < 6.6
    assert [s.speaker for s in para.segments] == ["SPEAKER_00", "SPEAKER_01"]
    assert para.segments[0].pitch.mean_hz == pytest.approx(low.pitch.mean_hz, rel=1e-3)
    for unit in (low, high, *para.segments):
        assert unit.speaking_rate.words_per_s > 1 and unit.speaking_rate.syllables_per_s > 2
        assert unit.loudness.lufs < 0 and unit.voice_quality.hnr_db > 0
        assert 0 <= unit.arousal.value <= 1 and unit.arousal.level is not None
    assert para.recording.snr_db > 40  # digital silence between the turns
    assert 1 <= para.recording.quality.ovrl <= 5
    assert low.pitch.level == "very_low"  # 100 Hz with the unknown-gender edges


@pytest.mark.slow
def test_gender_rule_and_gender_relative_pitch_levels(dialogue, measured):
    from uas_pipeline.stages.gender_acoustic import AcousticGender
    from uas_pipeline.stages.levels import GenderPitchLevels

    audio, inputs = dialogue
    gender = _run(AcousticGender(), audio, inputs)
    assert {k: v.label for k, v in gender.speakers.items()} == {"SPEAKER_00": "male", "SPEAKER_01": "female"}
    leveled = GenderPitchLevels().process([StageInput(clip=_clip(audio),
                                                      inputs={"paralinguistics": measured, "gender": gender})])[0]
    record = _record(audio, {**inputs, "paralinguistics": measured, "gender": gender, "levels": leveled})
    low, high = record.paralinguistics.speakers
    assert low.gender.label == "male" and low.pitch.level == "low"  # 100 Hz: "very_low" before, for anyone
    assert high.pitch.level == "medium"  # 220 Hz for a woman


def test_measured_stage_without_diarization_or_asr(dialogue):
    from uas_pipeline.stages.paralinguistics_measured import MeasuredParalinguistics

    audio, inputs = dialogue
    only_vad = _run(MeasuredParalinguistics({"pitch_method": "praat", "quality": False}), audio, {"vad": inputs["vad"]})
    assert only_vad.speakers is None and only_vad.segments is None and only_vad.quality is None
    assert only_vad.snr_db is not None
    asr_only = _run(MeasuredParalinguistics({"pitch_method": "praat", "quality": False}), audio,
                    {"vad": inputs["vad"], "asr": inputs["asr"]})
    record = _record(audio, {"vad": inputs["vad"], "asr": inputs["asr"], "paralinguistics": asr_only})
    assert record.paralinguistics.speakers is None
    assert [s.speaker for s in record.paralinguistics.segments] == [None, None]
    assert record.paralinguistics.segments[1].pitch.mean_hz > 200


def test_recipe_plan_field_ownership_and_skips():
    from uas_pipeline.plan import build_plan, record_field_sources
    from uas_pipeline.recipe import RecipeError, validate_recipe
    from uas_pipeline.stages.registry import register_backend, unregister_backend

    register_backend("diarization", "fake", "tests.test_paraling_stages:FakeDiarization")
    try:
        recipe = validate_recipe({"stages": {
            "vad": {"backend": "silero"}, "asr": {"backend": "faster-whisper"},
            "diarization": {"backend": "fake"}, "paralinguistics": {"backend": "measured"},
            "gender": {"backend": "acoustic"}, "age": {"backend": "transformers"},
            "emotion": {"backend": "transformers"}, "accent": {"backend": "transformers"}}})
        plan = build_plan(recipe)
        names = [s.name for s in plan]
        assert names.index("paralinguistics") > names.index("attribution")
        assert names.index("levels") > max(names.index("paralinguistics"), names.index("gender"))
        fields = record_field_sources(recipe, plan)
        assert fields["paralinguistics.speakers[].pitch"] == "levels"
        assert fields["paralinguistics.speakers[].gender"] == "gender"
        assert fields["paralinguistics.recording.quality"] == "paralinguistics"
        assert fields["paralinguistics.speakers[].emotion"] == "skipped: stages.emotion: no model configured"
        assert fields["paralinguistics.speakers[].age"] == "skipped: stages.age: no model configured"
        assert fields["paralinguistics.segments[].accent"] == "skipped: stages.accent: no model configured"
        with pytest.raises(RecipeError, match="pitch_method"):
            validate_recipe({"stages": {"paralinguistics": {"backend": "measured", "pitch_method": "yin"}}})
        # Without diarization the gender stage still plans (it fills nothing: no speaker list).
        names = [s.name for s in build_plan(validate_recipe({"stages": {
            "paralinguistics": {"backend": "measured"}, "gender": {"backend": "acoustic"}}}))]
        assert names == ["paralinguistics", "gender", "levels"]
    finally:
        unregister_backend("diarization", "fake")


def test_no_model_means_null_fields_not_guesses(dialogue):
    from uas_pipeline.stages.emotion_transformers import TransformersEmotion

    audio, inputs = dialogue
    stage = TransformersEmotion({})
    assert stage.skipped_fields() == {p: "no model configured" for p in stage.fills}
    out = _run(stage, audio, inputs)
    assert out.speakers is None and out.segments is None
    assert stage.model_name() is None


from uas_pipeline.outputs.diarization import DIARIZATION_FIELDS  # noqa: E402
from uas_pipeline.stages.base import Stage  # noqa: E402


class FakeDiarization(Stage):
    """Stands in for the diarization stage in plan tests."""

    name = "diarization"
    backend = "fake"
    Output = DiarizationOutput
    fills = DIARIZATION_FIELDS

    def process(self, batch):
        raise NotImplementedError


@pytest.mark.slow
def test_outputs_assemble_with_exactly_their_declared_inputs(dialogue, measured):
    """What the runner checks per clip: each step's output builds a record from the outputs of the
    steps it requires or uses (and nothing else)."""
    from uas_pipeline.plan import build_plan
    from uas_pipeline.recipe import validate_recipe
    from uas_pipeline.stages.gender_acoustic import AcousticGender
    from uas_pipeline.stages.levels import GenderPitchLevels
    from uas_pipeline.stages.registry import register_backend, unregister_backend
    from uas_pipeline.tasks import StepRunner

    audio, inputs = dialogue
    outputs = {**inputs, "paralinguistics": measured}
    outputs["gender"] = _run(AcousticGender(), audio, inputs)
    outputs["levels"] = GenderPitchLevels().process([StageInput(clip=_clip(audio), inputs={
        "paralinguistics": measured, "gender": outputs["gender"]})])[0]
    register_backend("diarization", "fake", "tests.test_paraling_stages:FakeDiarization")
    try:
        plan = build_plan(validate_recipe({"stages": {
            "vad": {"backend": "silero"}, "asr": {"backend": "faster-whisper"}, "diarization": {"backend": "fake"},
            "paralinguistics": {"backend": "measured"}, "gender": {"backend": "acoustic"}}}))
    finally:
        unregister_backend("diarization", "fake")
    for step in plan:
        if step.name not in ("paralinguistics", "gender", "levels"):
            continue
        deps = [s for s in plan if s.name in step.deps()]
        runner = StepRunner(step, deps, stage=step.instantiate())
        item = StageInput(clip=_clip(audio), inputs={d.name: outputs[d.name] for d in deps})
        assert runner._checked(outputs[step.name], item)
