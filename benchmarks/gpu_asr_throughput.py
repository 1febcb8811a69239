"""GPU throughput of the ASR stage's batched ``process()`` vs the bare model's best batched loop.

    python benchmarks/gpu_asr_throughput.py --device cuda [--dims small] [--clips 400] [--json-out F]
    python benchmarks/gpu_asr_throughput.py --device cpu --tiny          # the smoke test run in CI

Both sides get the same short clips (2–6 s; synthetic unless ``--audio-dir`` holds WAV files) and an
openai-whisper model: ``--model`` (a ``.pt`` checkpoint) or random weights of Whisper's ``--dims``
(``tiny`` … ``small``; the device machine has no model files and no internet).

* **stage**: ``OpenAIWhisperStage.process`` on chunks of the clips holding ``--batch-audio-s``
  seconds, as the runner calls it (stages never see Ray): speech pieces packed into shared 30 s
  windows, ``--batch-windows`` windows encoded and decoded together, stitched back per clip.
* **bare**: the clips sorted by length, each padded to its own 30 s window, encoded and decoded with
  ``whisper.decode`` in batches; every batch size of ``--bare-batches`` is timed and the best kept.

With random weights a decoder never writes what a real one would, so for a fair measure both sides
decode a fixed amount, ``--tokens-per-s`` tokens per second of audio (+16 per window), with
end-of-text and timestamps suppressed (``DecodeSettings.fixed_length``); the stage's re-decoding of
doubtful pieces is off (random text is always doubtful). With ``--model`` and ``--real`` both sides
decode normally (the stage then re-decodes what it judges doubtful, as in production).

Prints one JSON object: audio hours per hour of each side, their ratio (goal: stage ≥ 0.8 × bare),
sampled GPU utilisation (``torch.cuda.utilization`` or ``nvidia-smi``), the device name.

Needs numpy, torch, openai-whisper (+ tiktoken, more-itertools) and pydantic; not Ray, CTranslate2,
pyarrow, soundfile or numba (a stand-in is installed when numba is missing: only word timing would
use it, and this benchmark decodes without word timestamps unless ``--words``).
``benchmarks/gpu_asr_deps.sh DIR`` gathers what a Python 3.12 machine without them needs into DIR
(put DIR on ``PYTHONPATH``).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import threading
import time
import types
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SR = 16000
DIMS = {  # Whisper's published sizes (English-only vocabulary)
    "tiny": dict(n_audio_state=384, n_audio_head=6, n_audio_layer=4, n_text_state=384, n_text_head=6, n_text_layer=4),
    "base": dict(n_audio_state=512, n_audio_head=8, n_audio_layer=6, n_text_state=512, n_text_head=8, n_text_layer=6),
    "small": dict(n_audio_state=768, n_audio_head=12, n_audio_layer=12, n_text_state=768, n_text_head=12,
                  n_text_layer=12),
    "smoke": dict(n_audio_state=64, n_audio_head=2, n_audio_layer=1, n_text_state=64, n_text_head=2, n_text_layer=1),
}


def ensure_numba() -> bool:
    """openai-whisper imports numba for its CPU DTW; without numba, an identity ``jit`` stands in."""
    try:
        import numba  # noqa: F401

        return True
    except ImportError:
        shim = types.ModuleType("numba")
        shim.jit = lambda *a, **k: (a[0] if a and callable(a[0]) and not k else (lambda f: f))
        sys.modules["numba"] = shim
        return False


def build_model(args, device: str):
    import torch
    import whisper
    from whisper.model import ModelDimensions, Whisper

    if args.model:
        return whisper.load_model(args.model, device=device), args.model
    torch.manual_seed(0)
    dims = ModelDimensions(n_mels=80, n_audio_ctx=1500, n_vocab=51864, n_text_ctx=448, **DIMS[args.dims])
    path = Path(args.work_dir) / f"random-{args.dims}.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    model = Whisper(dims)
    torch.nn.init.normal_(model.decoder.positional_embedding, std=0.02)  # left uninitialised by Whisper()
    torch.save({"dims": asdict(dims), "model_state_dict": model.state_dict()}, path)
    return None, str(path)


def synthetic_clips(n: int, lo: float, hi: float, seed: int = 0) -> list[np.ndarray]:
    """Speech-like stand-ins: noise shaped by a syllable-rate envelope, a little silence at both ends."""
    rng = np.random.default_rng(seed)
    clips = []
    for _ in range(n):
        d = rng.uniform(lo, hi)
        t = np.arange(int(d * SR)) / SR
        env = 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(3, 5) * t) ** 2
        x = (0.1 * env * rng.standard_normal(len(t))).astype(np.float32)
        x[: int(0.2 * SR)] = 0
        x[-int(0.2 * SR):] = 0
        clips.append(x)
    return clips


def wav_clips(folder: str, n: int, lo: float, hi: float) -> list[np.ndarray]:
    import wave

    found = []
    for path in sorted(Path(folder).rglob("*.wav")):
        with wave.open(str(path)) as w:
            if w.getframerate() != SR or w.getsampwidth() != 2:
                continue
            x = np.frombuffer(w.readframes(w.getnframes()), np.int16).reshape(-1, w.getnchannels()).mean(axis=1)
        if lo <= len(x) / SR <= hi:
            found.append((x / 32768.0).astype(np.float32))
    if not found:
        raise SystemExit(f"no 16 kHz 16-bit WAV of {lo}-{hi} s under {folder}")
    return [found[k % len(found)] for k in range(n)]


class GpuSampler:
    """Samples GPU utilisation (percent) every ``period`` seconds while running."""

    def __init__(self, device: str, period: float = 0.2):
        self.samples: list[float] = []
        self.device, self.period = device, period
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.source: str | None = None

    def _read(self) -> float | None:
        import torch

        try:
            self.source = "torch.cuda.utilization"
            return float(torch.cuda.utilization())
        except Exception:  # noqa: BLE001 - pynvml missing: ask nvidia-smi
            try:
                out = subprocess.run(["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"],
                                     capture_output=True, text=True, timeout=5).stdout
                self.source = "nvidia-smi"
                return float(out.split()[0])
            except Exception:  # noqa: BLE001
                self.source = None
                return None

    def __enter__(self) -> GpuSampler:
        if self.device == "cuda":
            def loop() -> None:
                while not self._stop.wait(self.period):
                    value = self._read()
                    if value is not None:
                        self.samples.append(value)
            self._thread = threading.Thread(target=loop, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()

    def summary(self) -> dict | None:
        if not self.samples:
            return None
        return {"mean": statistics.fmean(self.samples), "median": statistics.median(self.samples),
                "samples": len(self.samples), "source": self.source}


def run_stage(stage, clips: list[np.ndarray], batch_audio_s: float) -> dict:
    from uas_pipeline.clips import ClipInfo
    from uas_pipeline.stages.base import StageFailure, StageInput

    items = [StageInput(clip=ClipInfo(id=f"c{k}", source="synthetic", duration_s=len(a) / SR, sample_rate=SR,
                                      channels=1), audio=a, sample_rate=SR) for k, a in enumerate(clips)]
    chunks, chunk, held = [], [], 0.0
    for item in items:  # as the runner splits a batch by resources.batch_audio_s
        if chunk and held + item.duration_s > batch_audio_s:
            chunks.append(chunk)
            chunk, held = [], 0.0
        chunk.append(item)
        held += item.duration_s
    chunks.append(chunk)
    windows = failed = 0
    _sync()
    t0 = time.perf_counter()
    for chunk in chunks:
        outs = stage.process(chunk)
        failed += sum(isinstance(o, StageFailure) for o in outs)
        windows += stage.last_stats.decoded_windows
    _sync()
    return {"wall_s": time.perf_counter() - t0, "windows": windows, "calls": len(chunks), "failed": failed}


def run_bare(model, clips: list[np.ndarray], batch: int, beam: int, tokens_per_s: float | None, fixed: bool) -> dict:
    import torch
    import whisper
    from whisper.audio import N_SAMPLES, log_mel_spectrogram, pad_or_trim

    from uas_pipeline.asr.backend_openai_whisper import decode_batch  # batched beam search that works

    order = sorted(range(len(clips)), key=lambda k: len(clips[k]))
    device = next(model.parameters()).device
    fp16 = device.type == "cuda"
    eot = whisper.tokenizer.get_tokenizer(model.is_multilingual, num_languages=model.num_languages).eot
    _sync()
    t0 = time.perf_counter()
    windows = 0
    with torch.no_grad():
        for i in range(0, len(order), batch):
            idx = order[i:i + batch]
            mel = torch.stack([log_mel_spectrogram(pad_or_trim(torch.from_numpy(clips[k]), N_SAMPLES), model.dims.n_mels,
                                                   device=device) for k in idx])
            mel = pad_or_trim(mel, 3000)
            longest = max(len(clips[k]) for k in idx) / SR
            sample_len = 16 + math.ceil(tokens_per_s * longest) if tokens_per_s else None
            options = whisper.DecodingOptions(language="en", beam_size=beam, fp16=fp16, without_timestamps=fixed,
                                              suppress_tokens=[-1, eot] if fixed else "-1",
                                              sample_len=min(sample_len, model.dims.n_text_ctx // 2) if sample_len
                                              else None)
            decode_batch(model, mel.half() if fp16 else mel, options)
            windows += len(idx)
    _sync()
    return {"wall_s": time.perf_counter() - t0, "windows": windows, "batch": batch}


def progress(round_: int, what: str, run: dict, audio_s: float) -> None:
    """One line per timed run on stderr, so a run cut short still shows what it measured."""
    print(f"round {round_ + 1}: {what}: {run['wall_s']:.2f} s, {audio_s / run['wall_s']:.0f} audio h/h",
          file=sys.stderr, flush=True)


def _sync() -> None:
    import torch

    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--dims", choices=sorted(DIMS), default="small", help="random-weight model size")
    parser.add_argument("--model", help="an openai-whisper .pt checkpoint instead of random weights")
    parser.add_argument("--real", action="store_true", help="with --model: decode normally (no fixed length)")
    parser.add_argument("--tiny", action="store_true", help="smoke test: smallest model, 6 clips, batch sizes 2, 4")
    parser.add_argument("--clips", type=int, default=400)
    parser.add_argument("--min-s", type=float, default=2.0)
    parser.add_argument("--max-s", type=float, default=6.0)
    parser.add_argument("--audio-dir", help="read 16 kHz 16-bit WAV clips from here instead of synthesising")
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--tokens-per-s", type=float, default=5.0,
                        help="fixed decoding work per second of audio (random weights)")
    parser.add_argument("--words", action="store_true", help="stage with word timestamps (bare has none)")
    parser.add_argument("--batch-windows", default="16,32",
                        help="stage: windows decoded together (each value timed, the best reported)")
    parser.add_argument("--batch-audio-s", type=float, default=960.0, help="stage: audio seconds per process()")
    parser.add_argument("--bare-batches", default="8,16,32,64", help="bare: batch sizes tried (best kept)")
    parser.add_argument("--rounds", type=int, default=2, help="alternate stage/bare this many rounds")
    parser.add_argument("--work-dir", default="/tmp/gpu_asr_bench")
    parser.add_argument("--json-out")
    args = parser.parse_args(argv)
    if args.tiny:
        args.dims, args.clips, args.bare_batches, args.batch_windows, args.rounds = "smoke", 6, "2,4", "2", 1
        args.batch_audio_s = 60.0
    sys.path.insert(0, str(REPO))
    has_numba = ensure_numba()
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("CUDA is not available to torch")
    from uas_pipeline.resources import Resources
    from uas_pipeline.stages.asr_openai_whisper import OpenAIWhisperStage

    _, checkpoint = build_model(args, args.device)
    fixed = not (args.model and args.real)
    windows_tried = [int(b) for b in args.batch_windows.split(",")]
    stages: dict = {}
    load_s = 0.0
    for bw in windows_tried:
        stage = OpenAIWhisperStage(
            {"model": checkpoint, "device": args.device, "beam_size": args.beam, "language": "en",
             "word_timestamps": args.words, "temperature_fallback": not fixed, "batch_windows": bw,
             "recheck_pieces": not fixed},
            Resources(num_cpus=4, num_gpus=1 if args.device == "cuda" else 0, batch_audio_s=args.batch_audio_s))
        if stages:  # one model for all: only the batching differs
            first = next(iter(stages.values()))
            stage._backend, stage._device = first._backend, first._device
        else:
            t_load = time.perf_counter()
            stage.setup()
            load_s = time.perf_counter() - t_load
        if fixed:  # the same decoding work on both sides (see the module docstring)
            settings = replace(stage.decode_settings(), fixed_length=True, max_tokens_per_s=args.tokens_per_s)
            stage.decode_settings = (lambda s=settings: s)
        stages[bw] = stage
    model = next(iter(stages.values()))._backend.model
    clips = (wav_clips(args.audio_dir, args.clips, args.min_s, args.max_s) if args.audio_dir
             else synthetic_clips(args.clips, args.min_s, args.max_s))
    audio_s = sum(len(c) for c in clips) / SR
    batches = [int(b) for b in args.bare_batches.split(",")]
    run_bare(model, clips[: max(batches)], max(batches), args.beam, args.tokens_per_s if fixed else None, fixed)
    for stage in stages.values():  # warm-up (kernels, allocator)
        run_stage(stage, clips[: max(2, len(clips) // 10)], args.batch_audio_s)
    stage_runs, bare_runs = {bw: [] for bw in stages}, {b: [] for b in batches}
    samplers = {"stage": GpuSampler(args.device), "bare": GpuSampler(args.device)}
    for k in range(max(1, args.rounds)):
        for side in (("stage", "bare") if k % 2 == 0 else ("bare", "stage")):
            with samplers[side]:
                if side == "stage":
                    for bw, stage in stages.items():
                        stage_runs[bw].append(run_stage(stage, clips, args.batch_audio_s))
                        progress(k, f"stage batch_windows={bw}", stage_runs[bw][-1], audio_s)
                else:
                    for b in batches:
                        bare_runs[b].append(run_bare(model, clips, b, args.beam,
                                                     args.tokens_per_s if fixed else None, fixed))
                        progress(k, f"bare batch={b}", bare_runs[b][-1], audio_s)
    stage_walls = {bw: statistics.fmean(r["wall_s"] for r in runs) for bw, runs in stage_runs.items()}
    best_bw = min(stage_walls, key=stage_walls.get)
    stage_wall = stage_walls[best_bw]
    bare_walls = {b: statistics.fmean(r["wall_s"] for r in runs) for b, runs in bare_runs.items()}
    best = min(bare_walls, key=bare_walls.get)
    result = {
        "device": args.device,
        "device_name": torch.cuda.get_device_name(0) if args.device == "cuda" else "cpu",
        "torch": torch.__version__,
        "model": args.model or f"random weights, {args.dims} dims (English vocabulary)",
        "decoding": {"beam": args.beam, "fixed_tokens_per_s": args.tokens_per_s if fixed else None,
                     "word_timestamps": args.words, "language": "en"},
        "clips": len(clips), "audio_s": audio_s, "rounds": args.rounds,
        "stage": {"wall_s": stage_wall, "audio_h_per_h": audio_s / stage_wall, "best_batch_windows": best_bw,
                  "audio_h_per_h_by_batch_windows": {bw: audio_s / w for bw, w in stage_walls.items()},
                  "runs": stage_runs[best_bw], "batch_audio_s": args.batch_audio_s,
                  "windows_per_run": stage_runs[best_bw][0]["windows"], "model_load_s": load_s,
                  "gpu_utilisation": samplers["stage"].summary()},
        "bare": {"wall_s": bare_walls[best], "audio_h_per_h": audio_s / bare_walls[best], "best_batch": best,
                 "audio_h_per_h_by_batch": {b: audio_s / w for b, w in bare_walls.items()},
                 "windows_per_run": len(clips), "gpu_utilisation": samplers["bare"].summary()},
        "numba": has_numba,
    }
    result["ratio_stage_over_bare"] = result["stage"]["audio_h_per_h"] / result["bare"]["audio_h_per_h"]
    text = json.dumps(result, indent=2)
    print(text)
    if args.json_out:
        Path(args.json_out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
