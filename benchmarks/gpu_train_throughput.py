"""Training throughput of a ~100M-parameter continuous audio LLM in bf16 on synthetic data.

Standalone: needs only torch, transformers and this repository on ``PYTHONPATH`` (no Ray, no Parquet,
no openai-whisper). The model is the training module's own ``AudioLM`` (Whisper-base-sized encoder →
projector → Llama LM); inputs are random audio and random short targets, so nothing is read from disk.
Prints one JSON object: audio seconds and target tokens trained per second, step time, peak CUDA memory,
device name and parameter counts.

    PYTHONPATH=. python benchmarks/gpu_train_throughput.py                      # GPU, ~100M params
    PYTHONPATH=. python benchmarks/gpu_train_throughput.py --batch-size 32 --audio-s 30
    PYTHONPATH=. python benchmarks/gpu_train_throughput.py --device cpu --tiny  # smoke test on CPU
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from uas_pipeline.training.encoder import EncoderDims, Projector, WhisperStyleEncoder, encoder_ctx_for  # noqa: E402
from uas_pipeline.training.model import AudioLM, Batch, count_parameters  # noqa: E402

# ~100M parameters: a Whisper-base-sized encoder (20M), a 4x projector (2M), a 10-layer Llama (77M).
FULL = {"encoder": {"n_mels": 80, "n_state": 512, "n_head": 8, "n_layer": 6}, "downsample": 4,
        "lm": {"hidden_size": 768, "num_layers": 10, "num_heads": 12, "intermediate_size": 2048, "vocab": 8192}}
TINY = {"encoder": {"n_mels": 80, "n_state": 32, "n_head": 2, "n_layer": 1}, "downsample": 4,
        "lm": {"hidden_size": 64, "num_layers": 2, "num_heads": 2, "intermediate_size": 128, "vocab": 512}}


def build(config: dict[str, Any], max_audio_s: float) -> AudioLM:
    from transformers import LlamaConfig, LlamaForCausalLM

    lm_cfg = config["lm"]
    lm = LlamaForCausalLM(LlamaConfig(
        vocab_size=lm_cfg["vocab"], hidden_size=lm_cfg["hidden_size"], intermediate_size=lm_cfg["intermediate_size"],
        num_hidden_layers=lm_cfg["num_layers"], num_attention_heads=lm_cfg["num_heads"],
        num_key_value_heads=lm_cfg["num_heads"], max_position_embeddings=4096, tie_word_embeddings=True,
        bos_token_id=1, eos_token_id=2, pad_token_id=0,
    ))
    e = config["encoder"]
    encoder = WhisperStyleEncoder(EncoderDims(e["n_mels"], encoder_ctx_for(max_audio_s), e["n_state"], e["n_head"],
                                              e["n_layer"]))
    projector = Projector(encoder.output_dim, lm_cfg["hidden_size"], config["downsample"])
    return AudioLM("continuous", lm, lm_cfg["vocab"], 1, encoder=encoder, projector=projector)


def synthetic_batch(batch_size: int, audio_s: float, prompt_tokens: int, target_tokens: int, vocab: int,
                    device: torch.device, g: torch.Generator) -> Batch:
    n = int(audio_s * 16000)
    audio = (torch.randn(batch_size, n, generator=g) * 0.1).to(device)
    ids = lambda k: torch.randint(3, vocab, (k,), generator=g).tolist()  # noqa: E731
    return Batch(audio=audio, audio_lens=torch.full((batch_size,), n, device=device),
                 prompt_ids=[ids(prompt_tokens) for _ in range(batch_size)],
                 target_ids=[ids(target_tokens) + [2] for _ in range(batch_size)],
                 audio_s=batch_size * audio_s, clip_ids=[str(i) for i in range(batch_size)],
                 views=["compact"] * batch_size)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="auto", help="auto (cuda when available), cuda, cpu")
    p.add_argument("--tiny", action="store_true", help="a tiny config (smoke test on CPU)")
    p.add_argument("--steps", type=int, default=None, help="timed steps (default 30; tiny 3)")
    p.add_argument("--warmup", type=int, default=None, help="untimed steps first (default 5; tiny 1)")
    p.add_argument("--batch-size", type=int, default=None, help="clips per step (default 16; tiny 2)")
    p.add_argument("--audio-s", type=float, default=None, help="seconds of audio per clip (default 10; tiny 2)")
    p.add_argument("--target-tokens", type=int, default=128, help="target tokens per clip (eos added)")
    p.add_argument("--prompt-tokens", type=int, default=16)
    p.add_argument("--precision", choices=("bf16", "fp32"), default="bf16")
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json-out", help="also write the result here")
    args = p.parse_args(argv)

    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          "cpu" if args.device == "auto" else args.device)
    tiny = args.tiny
    config = TINY if tiny else FULL
    steps = args.steps if args.steps is not None else (3 if tiny else 30)
    warmup = args.warmup if args.warmup is not None else (1 if tiny else 5)
    batch_size = args.batch_size if args.batch_size is not None else (2 if tiny else 16)
    audio_s = args.audio_s if args.audio_s is not None else (2.0 if tiny else 10.0)

    torch.manual_seed(args.seed)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    model = build(config, max(audio_s, 1.0)).to(device).train()
    params = count_parameters(model)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, fused=device.type == "cuda")
    g = torch.Generator().manual_seed(args.seed)
    batch = synthetic_batch(batch_size, audio_s, args.prompt_tokens, args.target_tokens, config["lm"]["vocab"], device, g)
    dtype = torch.bfloat16 if args.precision == "bf16" else None

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    def step() -> tuple[float, int]:
        ctx = torch.autocast(device_type=device.type, dtype=dtype) if dtype else torch.autocast(device.type, enabled=False)
        with ctx:
            res = model(batch)
        res["loss"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return float(res["loss"].detach()), int(res["target_tokens"])

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    t0 = time.perf_counter()
    for _ in range(warmup):
        first_loss, _ = step()
    sync()
    warmup_s = time.perf_counter() - t0
    times, tokens, losses = [], 0, []
    for _ in range(steps):
        t = time.perf_counter()
        loss, n_tok = step()  # float(loss) synchronises, so each time covers the whole step
        times.append(time.perf_counter() - t)
        tokens += n_tok
        losses.append(loss)
    total = sum(times)
    with torch.no_grad():
        audio_tokens = int(model.audio_tokens_per_clip(batch.audio[:1], batch.audio_lens[:1])[0])
    result: dict[str, Any] = {
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
        "torch": torch.__version__,
        "transformers": __import__("transformers").__version__,
        "config": "tiny" if tiny else "~100M",
        "parameters": params,
        "precision": args.precision,
        "batch_size": batch_size,
        "audio_s_per_clip": audio_s,
        "target_tokens_per_clip": args.target_tokens + 1,
        "audio_tokens_per_clip": audio_tokens,
        "warmup_steps": warmup,
        "warmup_s": round(warmup_s, 3),
        "steps": steps,
        "step_s_mean": round(total / steps, 4),
        "step_s_median": round(statistics.median(times), 4),
        "audio_s_per_s": round(batch_size * audio_s * steps / total, 1),
        "target_tokens_per_s": round(tokens / total, 1),
        "loss_first": round(first_loss if warmup else losses[0], 4),
        "loss_last": round(losses[-1], 4),
    }
    if device.type == "cuda":
        result["peak_memory_allocated_gib"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 3)
        result["peak_memory_reserved_gib"] = round(torch.cuda.max_memory_reserved(device) / 2**30, 3)
    text = json.dumps(result, indent=1)
    print(text)
    if args.json_out:
        Path(args.json_out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
