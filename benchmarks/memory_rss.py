#!/usr/bin/env python
"""Peak memory of a pipeline run vs. the number of clips.

For each N given to ``--clips`` this script writes a JSONL manifest of N short clips (1.5 s and 2.5 s
cuts of the bundled demo speech, repeated under unique ids ``c00000``, ``c00001``, ...), runs

    uas-pipeline run recipes/demo.yaml --input MANIFEST --output OUT --quiet \
        --set output.rows_per_shard=50 --set runtime.temp_dir=/tmp/uasm-...

as a subprocess (a fresh embedded Ray per run) and samples RSS every ``--interval`` seconds (0.2)
and USS/PSS every ``--pss-interval`` seconds (2; see :class:`Sampler` for why less often) of:

* the driver (the ``uas-pipeline`` process);
* the run's process tree: the driver, its descendants (``children(recursive=True)``: gcs_server,
  raylet, the Ray workers the raylet forks, agents) and, in case something was re-parented, every
  process whose command line names the run's Ray temp dir. RSS counts pages shared between processes
  (the plasma object store in /dev/shm, shared libraries, torch) once per process, so the tree's RSS
  sum overstates; PSS (shared pages split between their users) is the fair sum.

Then it prints a table (wall time, clips ok, peak driver RSS, peak tree RSS, peak tree PSS) and the
ratio of the largest N to the smallest.

    .venv/bin/python benchmarks/memory_rss.py --clips 50 500 --json-out /tmp/memory_rss.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
DEMO_DIR = REPO / "uas_pipeline" / "data" / "demo"
SPEECH_FILES = [
    "speech_01.flac",
    "speech_02.flac",
    "speech_03.flac",
    "speech_04.ogg",
    "speech_music_01.flac",
    "speech_beeps_01.wav",
]
CUT_LENGTHS_S = (1.5, 2.5)
MB = 1024 * 1024
GROWTH_LIMIT = 1.15  # driver peak at the largest N over the smallest N above this: investigate


# --- input -----------------------------------------------------------------------------------------


def make_sources(directory: Path) -> list[Path]:
    """Cut every demo speech file into 1.5 s and 2.5 s clips (centred), keeping rate, channels, format."""
    directory.mkdir(parents=True, exist_ok=True)
    sources = []
    for name in SPEECH_FILES:
        data, sr = sf.read(DEMO_DIR / name, always_2d=True)
        info = sf.info(DEMO_DIR / name)
        for length in CUT_LENGTHS_S:
            n = min(len(data), int(round(length * sr)))
            start = (len(data) - n) // 2
            stem, ext = name.rsplit(".", 1)
            dest = directory / f"{stem}_{int(length * 1000)}ms.{ext}"
            if not dest.exists():
                sf.write(
                    dest,
                    np.ascontiguousarray(data[start : start + n]),
                    sr,
                    format=info.format,
                    subtype=info.subtype,
                )
            sources.append(dest.resolve())
    return sources


def refdata_speech(refdata: Path) -> list[Path]:
    """Real speech clips of ../shared/refdata (read only; nothing is copied into the repository)."""
    lines = [json.loads(line) for line in (refdata / "MANIFEST.jsonl").read_text().splitlines() if line.strip()]
    keep = {"asr", "speech_no_transcript", "emotion", "diarization", "emotion_dimensional", "speaker_traits"}
    return [refdata / e["path"] for e in lines if e["category"] in keep]


def make_long_files(directory: Path, count: int, seconds: float, refdata: Path) -> list[Path]:
    """``count`` 16 kHz mono FLAC files of ``seconds`` each, concatenated from refdata speech with
    0.5 s pauses (each file starts at a different clip, so files differ)."""
    directory.mkdir(parents=True, exist_ok=True)
    clips = []
    for path in refdata_speech(refdata):
        x, sr = sf.read(path, dtype="float32", always_2d=True)
        mono = x.mean(axis=1)
        g = np.gcd(sr, 16000)
        from scipy.signal import resample_poly

        clips.append(resample_poly(mono, 16000 // g, sr // g).astype(np.float32))
    pause = np.zeros(8000, np.float32)
    files = []
    for k in range(count):
        dest = directory / f"long{k:02d}_{int(seconds)}s.flac"
        if not dest.exists():
            n = int(seconds * 16000)
            with sf.SoundFile(dest, "w", 16000, 1, format="FLAC", subtype="PCM_16") as f:
                written, i = 0, k
                while written < n:
                    piece = np.concatenate([clips[i % len(clips)], pause])[: n - written]
                    f.write(piece)
                    written += len(piece)
                    i += 1
        files.append(dest.resolve())
    return files


def write_manifest(path: Path, n: int, sources: list[Path]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            f.write(json.dumps({"id": f"c{i:05d}", "audio": str(sources[i % len(sources)])}) + "\n")


# --- sampling --------------------------------------------------------------------------------------


AGENT_TITLES = ("ray::DashboardAgent", "ray::RuntimeEnvAgent")


def role(proc: psutil.Process, driver_pid: int) -> str:
    """driver | gcs_server | raylet | worker (``ray::`` processes) | agent | other (Ray's python helpers)."""
    if proc.pid == driver_pid:
        return "driver"
    try:
        name = proc.name()
        cmdline = " ".join(proc.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return "other"
    if name in ("gcs_server", "raylet"):
        return name  # first: the raylet's command line names the worker and agent scripts
    if cmdline.startswith(AGENT_TITLES) or "dashboard/agent.py" in cmdline or "runtime_env/agent" in cmdline:
        return "agent"
    if cmdline.startswith("ray::") or "default_worker.py" in cmdline:
        return "worker"  # the title changes from "python ... default_worker.py" to "ray::IDLE" etc.
    return "other"  # log monitor, monitor, dashboard, ...


@dataclass
class Peaks:
    driver_rss: int = 0
    driver_uss: int = 0
    driver_pss: int = 0
    tree_rss: int = 0
    tree_uss: int = 0
    tree_pss: int = 0
    max_processes: int = 0
    by_role_rss: dict[str, int] = field(default_factory=dict)
    by_role_pss: dict[str, int] = field(default_factory=dict)


class Sampler:
    """Samples the driver and the run's process tree; remembers peaks and a time series.

    RSS comes from /proc/PID/statm (about 0.05 ms a process) at every tick. USS/PSS need
    /proc/PID/smaps_rollup, which walks the page tables of the process under its mmap lock: 2-60 ms a
    process here, and at 0.2 s for 15 processes it took most of a core and slowed the run several
    times over. So PSS is swept every ``pss_interval`` seconds only (0: never).
    """

    def __init__(self, driver_pid: int, temp_dir: str, pss_interval: float):
        self.driver = psutil.Process(driver_pid)
        self.temp_dir = temp_dir
        self.pss_interval = pss_interval
        self.peaks = Peaks()
        self.series: list[dict[str, Any]] = []
        self.known: dict[int, psutil.Process] = {driver_pid: self.driver}
        self.roles: dict[int, str] = {}
        self.found_only_by_cmdline: set[int] = set()
        self.found_by_children: set[int] = set()
        self.pss_ok = pss_interval > 0
        self.cost_s = {"rss": 0.0, "pss": 0.0}
        self.samples = {"rss": 0, "pss": 0}
        self.t0 = time.monotonic()
        self._last_scan = -1e9
        self._last_pss = -1e9

    def _discover(self) -> list[psutil.Process]:
        try:
            children = self.driver.children(recursive=True)
        except psutil.NoSuchProcess:
            children = []
        for c in children:
            self.found_by_children.add(c.pid)
            self.known.setdefault(c.pid, c)
        now = time.monotonic()
        if now - self._last_scan >= 1.0:  # in case something was re-parented; once a second is plenty
            self._last_scan = now
            for p in psutil.process_iter(["cmdline"]):
                if p.pid in self.known:
                    continue
                cmd = p.info.get("cmdline") or []
                if any(self.temp_dir in part for part in cmd):
                    self.known[p.pid] = p
                    self.found_only_by_cmdline.add(p.pid)
        alive = []
        for pid, p in list(self.known.items()):
            if p.is_running():
                alive.append(p)
            else:
                del self.known[pid]
        return alive

    def _role(self, p: psutil.Process) -> str:
        r = self.roles.get(p.pid)
        if r is None or r == "other":  # a starting worker may not have its title yet
            r = self.roles[p.pid] = role(p, self.driver.pid)
        return r

    def sample(self) -> None:
        start = time.perf_counter()
        procs = self._discover()
        with_pss = self.pss_ok and start - self._last_pss >= self.pss_interval
        kind = "pss" if with_pss else "rss"
        if with_pss:
            self._last_pss = start
        tot = {"rss": 0, "uss": 0, "pss": 0}
        by_role_rss: dict[str, int] = {}
        by_role_pss: dict[str, int] = {}
        counted = 0
        driver = (0, 0, 0)
        for p in procs:
            try:
                if with_pss:
                    mi = p.memory_full_info()
                    rss, uss, pss = mi.rss, mi.uss, getattr(mi, "pss", 0)
                else:
                    rss, uss, pss = p.memory_info().rss, 0, 0
            except psutil.AccessDenied:
                self.pss_ok = False
                continue
            except (psutil.NoSuchProcess, psutil.ZombieProcess):
                continue
            r = self._role(p)
            counted += 1
            tot["rss"] += rss
            tot["uss"] += uss
            tot["pss"] += pss
            by_role_rss[r] = by_role_rss.get(r, 0) + rss
            by_role_pss[r] = by_role_pss.get(r, 0) + pss
            if p.pid == self.driver.pid:
                driver = (rss, uss, pss)
        if counted == 0:
            return
        pk = self.peaks
        pk.driver_rss = max(pk.driver_rss, driver[0])
        pk.tree_rss = max(pk.tree_rss, tot["rss"])
        pk.max_processes = max(pk.max_processes, counted)
        for r, v in by_role_rss.items():
            pk.by_role_rss[r] = max(pk.by_role_rss.get(r, 0), v)
        point = {
            "t": round(time.monotonic() - self.t0, 2),
            "procs": counted,
            "driver_rss_mb": round(driver[0] / MB, 1),
            "tree_rss_mb": round(tot["rss"] / MB, 1),
        }
        if with_pss:
            pk.driver_uss = max(pk.driver_uss, driver[1])
            pk.driver_pss = max(pk.driver_pss, driver[2])
            pk.tree_uss = max(pk.tree_uss, tot["uss"])
            pk.tree_pss = max(pk.tree_pss, tot["pss"])
            for r, v in by_role_pss.items():
                pk.by_role_pss[r] = max(pk.by_role_pss.get(r, 0), v)
            point.update(
                driver_pss_mb=round(driver[2] / MB, 1),
                tree_pss_mb=round(tot["pss"] / MB, 1),
                tree_rss_by_role_mb={k: round(v / MB, 1) for k, v in sorted(by_role_rss.items())},
                tree_pss_by_role_mb={k: round(v / MB, 1) for k, v in sorted(by_role_pss.items())},
            )
        self.series.append(point)
        self.samples[kind] += 1
        self.cost_s[kind] += time.perf_counter() - start


# --- one run ---------------------------------------------------------------------------------------


def cli_command() -> list[str]:
    exe = Path(sys.executable).parent / "uas-pipeline"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("uas-pipeline")
    if found:
        return [found]
    return [sys.executable, "-c", "import sys; from uas_pipeline.cli import main; sys.exit(main())"]


def run_once(
    n: int | str,
    work: Path,
    sources: list[Path],
    recipe: str,
    interval: float,
    pss_interval: float,
    timeout_s: float,
    keep: bool,
) -> dict[str, Any]:
    manifest = work / f"manifest-{n}.jsonl"
    out = work / f"out-{n}"
    shutil.rmtree(out, ignore_errors=True)
    write_manifest(manifest, n if isinstance(n, int) else len(sources), sources)
    temp_dir = tempfile.mkdtemp(prefix=f"uasm{n}-", dir="/tmp")  # short: Ray's socket paths must fit
    cmd = [
        *cli_command(),
        "run",
        recipe,
        "--input",
        str(manifest),
        "--output",
        str(out),
        "--quiet",
        "--set",
        "output.rows_per_shard=50",
        "--set",
        f"runtime.temp_dir={temp_dir}",
    ]
    log = work / f"run-{n}.log"
    print(f"[memory_rss] N={n}: {' '.join(cmd)}", file=sys.stderr, flush=True)
    with log.open("w") as logf:
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=logf, stderr=subprocess.STDOUT)
        sampler = Sampler(proc.pid, temp_dir, pss_interval)
        next_tick = time.monotonic()
        while proc.poll() is None:
            sampler.sample()
            if time.monotonic() - t0 > timeout_s:
                proc.terminate()
                proc.wait(30)
                break
            next_tick += interval
            time.sleep(max(0.0, next_tick - time.monotonic()))
        wall = time.monotonic() - t0
    leftovers = _leftovers(temp_dir, sampler)
    summary = _read_summary(out)
    result = {
        "clips": n,
        "returncode": proc.returncode,
        "wall_s": round(wall, 1),
        "run_wall_s": summary.get("wall_s"),
        "ok": summary.get("ok"),
        "failed": summary.get("failed"),
        "audio_s": summary.get("audio_s"),
        "shards": len(list(out.glob("*.parquet"))),
        "peaks_mb": {
            k: round(v / MB, 1)
            for k, v in asdict(sampler.peaks).items()
            if isinstance(v, int) and k != "max_processes"
        },
        "peaks_by_role_rss_mb": {k: round(v / MB, 1) for k, v in sorted(sampler.peaks.by_role_rss.items())},
        "peaks_by_role_pss_mb": {k: round(v / MB, 1) for k, v in sorted(sampler.peaks.by_role_pss.items())},
        "max_processes": sampler.peaks.max_processes,
        "processes_seen": len(sampler.roles),
        "processes_by_role": _count(sampler.roles.values()),
        "found_only_by_cmdline": len(sampler.found_only_by_cmdline),
        "pss_available": sampler.pss_ok,
        "samples": sampler.samples,
        "mean_sample_cost_ms": {
            k: round(1000 * sampler.cost_s[k] / max(1, sampler.samples[k]), 2) for k in sampler.cost_s
        },
        "sampler_cpu_share": round(sum(sampler.cost_s.values()) / wall, 3),
        "leftover_processes": leftovers,
        "log": str(log),
        "series": sampler.series,
    }
    if not keep:
        shutil.rmtree(temp_dir, ignore_errors=True)
        shutil.rmtree(out, ignore_errors=True)
    return result


def _count(values) -> dict[str, int]:
    counts: dict[str, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return dict(sorted(counts.items()))


def _leftovers(temp_dir: str, sampler: Sampler) -> int:
    """Processes of this run still alive 10 s after the driver exited; terminated by pid."""
    deadline = time.monotonic() + 10
    while True:
        alive = [
            p
            for p in psutil.process_iter(["cmdline"])
            if any(temp_dir in part for part in (p.info.get("cmdline") or []))
        ]
        if not alive or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    for p in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.terminate()
    psutil.wait_procs(alive, timeout=5)
    return len(alive)


def _read_summary(out: Path) -> dict[str, Any]:
    path = out / "_manifest.json"
    if not path.is_file():
        return {}
    last = json.loads(path.read_text()).get("last_run", {})
    counts = last.get("counts", {})
    return {
        "wall_s": last.get("wall_s"),
        "ok": counts.get("ok"),
        "failed": counts.get("failed"),
        "audio_s": last.get("audio_s"),
    }


# --- report ----------------------------------------------------------------------------------------


def table(results: list[dict[str, Any]]) -> str:
    head = (
        "| input | wall s | records ok | peak driver RSS MB | peak tree RSS MB | peak tree PSS MB "
        "| peak worker RSS MB | processes |"
    )
    lines = [head, "|" + "---:|" * 8]
    for r in results:
        p = r["peaks_mb"]
        worker = r["peaks_by_role_rss_mb"].get("worker", 0.0)
        lines.append(
            f"| {r['clips']} | {r['wall_s']:.0f} | {r['ok']} | {p['driver_rss']:.0f} | {p['tree_rss']:.0f} "
            f"| {p['tree_pss']:.0f} | {worker:.0f} | {r['max_processes']} |"
        )
    return "\n".join(lines)


def ratios(results: list[dict[str, Any]], hi: dict[str, Any] | None = None) -> dict[str, float]:
    """Peaks of ``hi`` (default: the last run) over the first run's."""
    lo, hi = results[0], hi or results[-1]
    return {
        k: round(hi["peaks_mb"][k] / lo["peaks_mb"][k], 3)
        for k in ("driver_rss", "tree_rss", "tree_pss")
        if lo["peaks_mb"].get(k)
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clips", type=int, nargs="+", default=[50, 500], help="numbers of clips, one run each")
    ap.add_argument("--work-dir", help="manifests, clips, outputs and logs (default: a new folder in /tmp)")
    ap.add_argument("--json-out", help="write the results (with the sampled time series) here")
    ap.add_argument("--recipe", default="recipes/demo.yaml", help="relative to the repository root")
    ap.add_argument("--interval", type=float, default=0.2, help="seconds between RSS samples")
    ap.add_argument(
        "--pss-interval",
        type=float,
        default=2.0,
        help="seconds between USS/PSS sweeps (smaps_rollup, costly); 0: RSS only",
    )
    ap.add_argument("--long", nargs="*", default=[], metavar="COUNTxSECONDS",
                    help="also run on long files built from ../shared/refdata speech, e.g. 1x3600 20x600")
    ap.add_argument("--refdata", default=str(REPO.parent / "shared" / "refdata"))
    ap.add_argument("--timeout", type=float, default=3600, help="seconds per run before it is stopped")
    ap.add_argument("--keep", action="store_true", help="keep outputs and Ray temp dirs")
    args = ap.parse_args(argv)

    work = Path(args.work_dir or tempfile.mkdtemp(prefix="uas-memory-")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    sources = make_sources(work / "clips")
    runs: list[tuple[int | str, list[Path]]] = [(n, sources) for n in sorted(args.clips)]
    for spec in args.long:
        count, seconds = spec.lower().split("x")
        files = make_long_files(work / "long", int(count), float(seconds), Path(args.refdata))
        runs.append((f"{count}x{int(float(seconds))}s", files))
    results = []
    for n, inputs in runs:
        r = run_once(n, work, inputs, args.recipe, args.interval, args.pss_interval, args.timeout, args.keep)
        p = r["peaks_mb"]
        print(
            f"[memory_rss] N={n}: rc={r['returncode']} wall={r['wall_s']}s ok={r['ok']} "
            f"driver RSS {p['driver_rss']} MB, tree RSS {p['tree_rss']} MB, tree PSS {p['tree_pss']} MB",
            file=sys.stderr,
            flush=True,
        )
        results.append(r)

    print(table(results))
    rat = ratios(results) if len(results) > 1 else {}
    for other in results[1:]:
        print(f"ratio {other['clips']} vs {results[0]['clips']}: "
              + ", ".join(f"{k} {v:.2f}" for k, v in ratios(results, other).items()))
    if rat and rat.get("driver_rss", 1.0) > GROWTH_LIMIT:
        print(f"WARNING: peak driver RSS grew by more than {100 * (GROWTH_LIMIT - 1):.0f}%")
    if args.json_out:
        payload = {
            "date": time.strftime("%Y-%m-%d"),
            "cpus": os.cpu_count(),
            "memory_gb": round(psutil.virtual_memory().total / 1024**3, 1),
            "interval_s": args.interval,
            "pss_interval_s": args.pss_interval,
            "work_dir": str(work),
            "ratios": {str(r["clips"]): ratios(results, r) for r in results[1:]},
            "runs": results,
        }
        Path(args.json_out).write_text(json.dumps(payload, indent=1) + "\n")
    bad = [r for r in results if r["returncode"] != 0 or r["failed"] or not r["ok"]]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
