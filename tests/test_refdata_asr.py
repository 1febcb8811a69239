"""ASR quality on the real gold-transcribed clips of ../shared/refdata (skipped when absent)."""

from __future__ import annotations

import json

import pytest

from uas_pipeline.evaluation import pooled_wer

from .conftest import REPO

pytestmark = pytest.mark.slow


def test_pooled_wer_on_gold_asr_clips(refdata, ray_session, tmp_path):
    import benchmarks.asr_wer as asr_wer

    manifest = tmp_path / "asr.jsonl"
    refs = {}
    with manifest.open("w") as f:
        for entry in map(json.loads, (refdata / "MANIFEST.jsonl").read_text().splitlines()):
            text = entry["reference"].get("text")
            if entry["category"] == "asr" and isinstance(text, str):
                refs[entry["path"]] = text
                f.write(json.dumps({"id": entry["path"], "audio": str(refdata / entry["path"])}) + "\n")
    assert len(refs) >= 5
    hyps = asr_wer.pipeline_hypotheses(REPO / "recipes" / "demo.yaml", manifest, tmp_path / "out", [])
    assert set(hyps) == set(refs)
    assert pooled_wer((refs[k], hyps[k]) for k in refs) <= 0.05
