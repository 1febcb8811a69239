"""Paralinguistic attributes on the labelled clips of ``../shared/refdata``, scored with
:mod:`uas_pipeline.eval_attributes`, plus the cost of each stage per audio second.

Until the runner's Arrow data path and a diarization backend land on main, this script calls the
stages directly (the contract's ``process()``), with real silero VAD, and with a *stand-in
diarization* that gives each (single-speaker) clip one speaker, SPEAKER_00, speaking in the VAD's
speech regions. No ASR: speaking rates come from acoustic syllable nuclei.

    PYTHONPATH=$PWD python benchmarks/paralinguistics_refdata.py [--pitch-method pyin] [--json out.json]

``--from-output DIR`` scores the records of a pipeline output instead (clip ids = manifest paths,
e.g. ``uas-pipeline run recipes/full.yaml --input <manifest of the labelled clips>``), as
``uas-pipeline eval`` does with this module as its attribute plug-in.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
REFDATA = REPO.parent / "shared" / "refdata"


def stand_in_diarization(vad, duration_s: float):
    from uas_pipeline.outputs.diarization import DiarizationOutput, DiarizedSpeaker, SpeakerTurn

    turns = [SpeakerTurn(start=s.start, end=s.end, speaker="SPEAKER_00") for s in vad.speech]
    if not turns:  # VAD found nothing: the whole clip
        turns = [SpeakerTurn(start=0.0, end=round(duration_s, 3), speaker="SPEAKER_00")]
    return DiarizationOutput(turns=turns, speakers=[DiarizedSpeaker(id="SPEAKER_00", speech_duration_s=sum(
        t.end - t.start for t in turns))], overlap=[], overlap_ratio=0.0)


def main() -> int:
    from uas_pipeline import eval_attributes
    from uas_pipeline.assembly import RecordDraft
    from uas_pipeline.audio import load_audio
    from uas_pipeline.clips import ClipInfo
    from uas_pipeline.stages.base import StageInput
    from uas_pipeline.stages.gender_acoustic import AcousticGender
    from uas_pipeline.stages.levels import GenderPitchLevels
    from uas_pipeline.stages.paralinguistics_measured import MeasuredParalinguistics
    from uas_pipeline.stages.vad_silero import SileroVadStage

    ap = argparse.ArgumentParser()
    ap.add_argument("--refdata", default=str(REFDATA))
    ap.add_argument("--pitch-method", default="pyin", choices=("pyin", "praat", "crepe"))
    ap.add_argument("--json", default=None)
    ap.add_argument("--from-output", default=None, help="score the records of this pipeline output")
    args = ap.parse_args()
    ref_dir = Path(args.refdata)
    entries = [json.loads(line) for line in (ref_dir / "MANIFEST.jsonl").read_text().splitlines() if line.strip()]
    entries = [e for e in entries if eval_attributes.applies(e)]
    if args.from_output:
        return score_output(Path(args.from_output), entries, ref_dir, args.json)
    vad = SileroVadStage({})
    para = MeasuredParalinguistics({"pitch_method": args.pitch_method})
    gender = AcousticGender()
    for stage in (vad, para, gender):
        stage.setup()
    busy = {"paralinguistics": 0.0, "gender": 0.0}
    audio_s = 0.0
    per_clip = []
    for entry in entries:
        audio, info = load_audio(ref_dir / entry["path"], target_sr=16000)
        clip = ClipInfo(id=entry["path"], source=entry["path"], duration_s=len(audio) / 16000,
                        sample_rate=info.sample_rate, channels=info.channels)
        audio_s += clip.duration_s
        inputs = {"vad": vad.process([StageInput(clip=clip, audio=audio, sample_rate=16000)])[0]}
        inputs["diarization"] = stand_in_diarization(inputs["vad"], clip.duration_s)
        outputs = dict(inputs)
        for name, stage in (("paralinguistics", para), ("gender", gender)):
            t0 = time.process_time()
            outputs[name] = stage.process([StageInput(clip=clip, audio=audio, sample_rate=16000, inputs=inputs)])[0]
            busy[name] += time.process_time() - t0
        outputs["levels"] = GenderPitchLevels().process(
            [StageInput(clip=clip, inputs={"paralinguistics": outputs["paralinguistics"], "gender": outputs["gender"]})])[0]
        draft = RecordDraft()
        for name, out in outputs.items():
            draft.apply(name, out.record_fields())
        record = draft.build(clip)
        scored = eval_attributes.score_clip(record, entry, ref_dir)
        spk = record.paralinguistics.speakers[0]
        scored["pitch_hz"] = spk.pitch.mean_hz if spk.pitch else None
        per_clip.append(scored)
        print(json.dumps(scored, ensure_ascii=False))
    pooled = eval_attributes.pool(per_clip)
    pooled["cost_cpu_s_per_audio_s"] = {k: round(v / audio_s, 4) for k, v in busy.items()}
    pooled["audio_s"] = round(audio_s, 2)
    pooled["pitch_method"] = args.pitch_method
    print(json.dumps(pooled, indent=2, ensure_ascii=False))
    if args.json:
        Path(args.json).write_text(json.dumps({"per_clip": per_clip, "pooled": pooled}, indent=2))
    return 0


def score_output(out_dir: Path, entries: list[dict], ref_dir: Path, json_out: str | None) -> int:
    import pyarrow.dataset as ds

    from uas_pipeline import eval_attributes
    from uas_pipeline.schema import UASRecord

    table = ds.dataset(str(out_dir), format="parquet").to_table(columns=["clip_id", "uas"])
    records = dict(zip(table.column("clip_id").to_pylist(), table.column("uas").to_pylist(), strict=True))
    per_clip = []
    for entry in entries:
        if entry["path"] not in records:
            per_clip.append({"clip": entry["path"], "unscored": "no record"})
            continue
        per_clip.append(eval_attributes.score_clip(UASRecord.from_json(records[entry["path"]]), entry, ref_dir))
    scored = [c for c in per_clip if "unscored" not in c]
    pooled = eval_attributes.pool(scored)
    pooled["unscored"] = len(per_clip) - len(scored)
    print("\n".join(eval_attributes.format_pooled(pooled)))
    if json_out:
        Path(json_out).write_text(json.dumps({"per_clip": per_clip, "pooled": pooled}, indent=2))
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    raise SystemExit(main())
