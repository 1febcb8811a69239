"""Training data: UAS Parquet shards → (audio, instruction, target) examples, streamed.

Shards are read in row batches (never a whole dataset), records are split into train / holdout by a
stable hash of the clip id, each record gets one target view per epoch (drawn with the recipe's task
weights among the views it supports, seeded by epoch and clip id, so order and workers do not change
the draw), and its audio is decoded only when the example is used. Under Ray Train, Ray Data reads
and decodes instead (:func:`ray_dataset`), and workers build the same examples from its rows.
"""

from __future__ import annotations

import hashlib
import logging
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..audio import AudioError, load_audio
from ..schema import UASRecord
from ..targets import render_view, supported_views
from .recipe import DataConfig

log = logging.getLogger(__name__)
SAMPLE_RATE = 16000
READ_BATCH_ROWS = 256


class DataError(ValueError):
    """Training data that cannot be used (no shards, no examples)."""


@dataclass
class Example:
    clip_id: str
    view: str
    prompt_ids: list[int]
    target_ids: list[int]  # eos included
    audio: np.ndarray  # mono float32, 16 kHz

    @property
    def audio_s(self) -> float:
        return len(self.audio) / SAMPLE_RATE


@dataclass
class SkipCounts:
    """Why records produced no example (logged once per epoch)."""

    no_view: int = 0
    too_long: int = 0
    target_too_long: int = 0
    audio_error: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def total(self) -> int:
        return self.no_view + self.too_long + self.target_too_long + self.audio_error


# --- shards and splits ------------------------------------------------------------------------------


def list_shards(paths: list[str]) -> list[Path]:
    """The Parquet shards of UAS output directories (top level only: ``errors/`` is the ledger)."""
    shards: list[Path] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            shards.extend(sorted(path.glob("*.parquet")))
        elif path.is_file():
            shards.append(path)
        else:
            raise DataError(f"training data not found: {p}")
    if not shards:
        raise DataError(f"no Parquet shards in {', '.join(paths)}")
    return shards


def has_shards(path: str) -> bool:
    p = Path(path)
    return p.is_file() or (p.is_dir() and any(p.glob("*.parquet")))


def iter_rows(shards: list[Path]) -> Iterator[tuple[str, str]]:
    """``(clip_id, uas_json)`` of every row, shard by shard, in row batches."""
    import pyarrow.parquet as pq

    for shard in shards:
        pf = pq.ParquetFile(shard)
        for batch in pf.iter_batches(batch_size=READ_BATCH_ROWS, columns=["clip_id", "uas"]):
            yield from zip(batch.column(0).to_pylist(), batch.column(1).to_pylist(), strict=True)


def in_holdout(clip_id: str, fraction: float, seed: int) -> bool:
    """Stable split: the same clip id is held out on every machine and in every run."""
    if fraction <= 0:
        return False
    h = int.from_bytes(hashlib.sha256(f"{seed}:{clip_id}".encode()).digest()[:8], "big")
    return h / 2**64 < fraction


def split_sources(cfg: DataConfig, split: str) -> tuple[list[str], Callable[[str], bool]]:
    """The data paths of a split and the clip-id filter that selects its records."""
    if split == "eval":
        if not cfg.eval:
            raise DataError("data.eval is not set")
        return cfg.eval, lambda _cid: True
    frac, seed = cfg.holdout_fraction, cfg.holdout_seed
    if split == "train":
        return cfg.train, lambda cid: not in_holdout(cid, frac, seed)
    if split == "holdout":
        return cfg.train, lambda cid: in_holdout(cid, frac, seed)
    raise ValueError(f"unknown split {split!r}")


def iter_split_records(cfg: DataConfig, split: str) -> Iterator[UASRecord]:
    paths, keep = split_sources(cfg, split)
    for clip_id, text in iter_rows(list_shards(paths)):
        if keep(clip_id):
            yield UASRecord.from_json(text)


# --- examples ---------------------------------------------------------------------------------------


def choose_view(record: UASRecord, tasks: dict[str, float], seed: int, epoch: int) -> str | None:
    """One target view for this record and epoch, by the task weights among its supported views."""
    options = [(v, tasks[v]) for v in supported_views(record) if tasks.get(v, 0) > 0]
    if not options:
        return None
    rng = random.Random(f"{seed}:{epoch}:{record.clip.id}")
    return rng.choices([v for v, _ in options], weights=[w for _, w in options])[0]


def clip_audio(record: UASRecord, audio_root: str | None, max_audio_s: float) -> np.ndarray | None:
    """The clip's audio at 16 kHz mono, or ``None`` when it is longer than ``max_audio_s``."""
    if record.clip.duration_s > max_audio_s + 1e-3:
        return None
    source = Path(record.clip.source)
    if not source.is_absolute() and audio_root:
        source = Path(audio_root) / source
    audio, _ = load_audio(source, record.clip.offset_s or 0.0, record.clip.duration_s, target_sr=SAMPLE_RATE)
    return audio[: int(max_audio_s * SAMPLE_RATE)]


class ExampleBuilder:
    """Record (+ audio) → :class:`Example`: view choice, prompt and target token ids."""

    def __init__(self, cfg: DataConfig, tokenize: Callable[[str], list[int]], eos_id: int, seed: int,
                 max_target_tokens: int) -> None:
        self.cfg = cfg
        self.tokenize = tokenize
        self.eos_id = eos_id
        self.seed = seed
        self.max_target_tokens = max_target_tokens
        self._prompt_cache: dict[str, list[int]] = {}

    def prompt_ids(self, view: str) -> list[int]:
        if view not in self._prompt_cache:
            self._prompt_cache[view] = self.tokenize(self.cfg.prompt(view) + "\n")
        return self._prompt_cache[view]

    def plan(self, record: UASRecord, epoch: int, skips: SkipCounts) -> tuple[str, list[int]] | None:
        """The view and target ids, or ``None`` (counted in ``skips``) when the record yields nothing."""
        view = choose_view(record, self.cfg.tasks, self.seed, epoch)
        if view is None:
            skips.no_view += 1
            return None
        if record.clip.duration_s > self.cfg.max_audio_s + 1e-3:
            skips.too_long += 1
            return None
        rendered = render_view(record, view)
        assert rendered is not None
        target = self.tokenize(rendered.text()) + [self.eos_id]
        if len(target) > self.max_target_tokens:
            skips.target_too_long += 1
            return None
        return view, target

    def build(self, record: UASRecord, audio: np.ndarray, planned: tuple[str, list[int]]) -> Example:
        view, target = planned
        return Example(record.clip.id, view, self.prompt_ids(view), target, audio)


def _shuffled(items: Iterator[Any], buffer: int, rng: random.Random) -> Iterator[Any]:
    """A bounded shuffle buffer (memory: ``buffer`` items)."""
    buf: list[Any] = []
    for item in items:
        if len(buf) < buffer:
            buf.append(item)
            continue
        j = rng.randrange(buffer)
        yield buf[j]
        buf[j] = item
    rng.shuffle(buf)
    yield from buf


def _stream_partition() -> tuple[int, int]:
    """(index, count) of this DataLoader worker (0, 1 in the main process)."""
    import torch.utils.data

    info = torch.utils.data.get_worker_info()
    return (0, 1) if info is None else (info.id, info.num_workers)


class ExampleStream:
    """Endless (``repeat``) or one-pass stream of examples of a split, partitioned across ranks and
    DataLoader workers (wrapped into a ``torch.utils.data.IterableDataset`` by :func:`torch_dataset`).

    ``skip_batches`` (on resume) is the number of batches of ``batch_size`` the whole run already
    consumed; this partition skips its share without decoding audio, so a resumed run sees the same
    examples as an uninterrupted one."""

    def __init__(self, cfg: DataConfig, split: str, builder: ExampleBuilder, *, rank: int = 0, world_size: int = 1,
                 repeat: bool = True, shuffle: bool = True, batch_size: int = 1, skip_batches: int = 0,
                 max_records: int | None = None) -> None:
        self.cfg, self.split, self.builder = cfg, split, builder
        self.rank, self.world_size = rank, world_size
        self.repeat, self.shuffle = repeat, shuffle
        self.batch_size, self.skip_batches = batch_size, skip_batches
        self.max_records = max_records

    def __iter__(self) -> Iterator[Example]:
        worker, n_workers = _stream_partition()
        part, n_parts = self.rank * n_workers + worker, self.world_size * n_workers
        # DataLoader workers take turns batch by batch: this one produced every n_workers-th batch.
        mine = max(0, (self.skip_batches - worker + n_workers - 1) // n_workers)
        to_skip = mine * self.batch_size
        paths, keep = split_sources(self.cfg, self.split)
        shards = list_shards(paths)
        epoch = 0
        while True:
            produced = 0
            skips = SkipCounts()
            rows = (r for i, r in enumerate(_kept(iter_rows(shards), keep, self.max_records)) if i % n_parts == part)
            if self.shuffle:
                rows = _shuffled(rows, self.cfg.shuffle_buffer, random.Random(f"{self.builder.seed}:{epoch}:{part}"))
            for _clip_id, text in rows:
                record = UASRecord.from_json(text)
                planned = self.builder.plan(record, epoch, skips)
                if planned is None:
                    continue
                if to_skip > 0:
                    to_skip -= 1
                    produced += 1
                    continue
                try:
                    audio = clip_audio(record, self.cfg.audio_root, self.cfg.max_audio_s)
                except AudioError as exc:
                    skips.audio_error += 1
                    skips.reasons[exc.reason] = skips.reasons.get(exc.reason, 0) + 1
                    log.warning("skipping %s: %s", record.clip.id, exc)
                    continue
                assert audio is not None  # plan() rejected long clips
                produced += 1
                yield self.builder.build(record, audio, planned)
            if skips.total():
                log.info("epoch %d, split %s: %d records without an example (%s)", epoch, self.split, skips.total(), skips)
            if not self.repeat:
                return
            if produced == 0:
                raise DataError(f"split {self.split!r} yields no examples for this worker (partition {part} of {n_parts})")
            epoch += 1


def _kept(rows: Iterator[tuple[str, str]], keep: Callable[[str], bool], limit: int | None) -> Iterator[tuple[str, str]]:
    n = 0
    for clip_id, text in rows:
        if limit is not None and n >= limit:
            return
        if keep(clip_id):
            n += 1
            yield clip_id, text


def torch_dataset(stream: ExampleStream) -> Any:
    import torch.utils.data

    class _Dataset(torch.utils.data.IterableDataset):
        def __iter__(self) -> Iterator[Example]:
            return iter(stream)

    return _Dataset()


def collate(examples: list[Example]) -> Any:
    """Pad audio into one tensor; token ids stay per example (the model lays out each sequence)."""
    import torch

    from .model import Batch

    lens = [len(e.audio) for e in examples]
    audio = torch.zeros((len(examples), max(lens)), dtype=torch.float32)
    for i, e in enumerate(examples):
        audio[i, : lens[i]] = torch.from_numpy(np.ascontiguousarray(e.audio, dtype=np.float32))
    return Batch(
        audio=audio,
        audio_lens=torch.tensor(lens, dtype=torch.long),
        prompt_ids=[e.prompt_ids for e in examples],
        target_ids=[e.target_ids for e in examples],
        audio_s=sum(lens) / SAMPLE_RATE,
        clip_ids=[e.clip_id for e in examples],
        views=[e.view for e in examples],
    )


def batches(examples: Iterator[Example], batch_size: int) -> Iterator[Any]:
    """Group examples into collated batches (the last partial batch of a one-pass stream included)."""
    group: list[Example] = []
    for ex in examples:
        group.append(ex)
        if len(group) == batch_size:
            yield collate(group)
            group = []
    if group:
        yield collate(group)


def torch_batches(stream: ExampleStream, batch_size: int, loader_workers: int) -> Iterator[Any]:
    """Batches through a ``torch.utils.data.DataLoader`` (``loader_workers`` processes decode audio)."""
    if loader_workers == 0:
        yield from batches(iter(stream), batch_size)
        return
    from torch.utils.data import DataLoader

    loader = DataLoader(torch_dataset(stream), batch_size=batch_size, collate_fn=collate,
                        num_workers=loader_workers, persistent_workers=False)
    yield from loader


# --- Ray Data (under Ray Train) ----------------------------------------------------------------------


def ray_dataset(cfg: DataConfig, split: str) -> Any:
    """A Ray Dataset of the split's records with decoded audio: columns ``clip_id, uas, audio, ok``.

    Reading and decoding run as Ray Data tasks across the cluster; view choice and tokenization stay
    in the training workers (:func:`examples_from_ray_rows`) so they follow the epoch."""
    import ray.data

    paths, keep = split_sources(cfg, split)
    shards = [str(p) for p in list_shards(paths)]
    audio_root, max_audio_s = cfg.audio_root, cfg.max_audio_s

    def decode(row: dict[str, Any]) -> list[dict[str, Any]]:
        if not keep(row["clip_id"]):
            return []
        record = UASRecord.from_json(row["uas"])
        try:
            audio = clip_audio(record, audio_root, max_audio_s)
        except AudioError as exc:
            log.warning("skipping %s: %s", record.clip.id, exc)
            audio = None
        ok = audio is not None
        return [{"clip_id": row["clip_id"], "uas": row["uas"], "ok": ok,
                 "audio": audio if ok else np.zeros(1, dtype=np.float32)}]

    return ray.data.read_parquet(shards).select_columns(["clip_id", "uas"]).flat_map(decode)


def examples_from_ray_rows(rows: Iterator[dict[str, Any]], builder: ExampleBuilder, epoch: int) -> Iterator[Example]:
    skips = SkipCounts()
    for row in rows:
        if not row["ok"]:
            skips.audio_error += 1
            continue
        record = UASRecord.from_json(row["uas"])
        planned = builder.plan(record, epoch, skips)
        if planned is not None:
            yield builder.build(record, np.asarray(row["audio"], dtype=np.float32), planned)
