"""Synthetic multi-speaker recordings with known turns, built from the speech in ../shared/refdata.

Used to choose and check the diarization settings beyond the two refdata diarization clips. Each
speaker's speech comes from refdata files of one person (LibriSpeech readers, the speechbrain
``spk1`` sentences, EmoDB speaker 03, JFK, the two channels of ``stereo_diarization.wav``, one
AudioMNIST speaker as short back-channel interjections). Pieces are cut inside silero-VAD speech
regions of the sources, so the reference turns are the pieces' spans; each piece is brought to its
speaker's level (-26 dBFS ± 2 dB per speaker, ± 1 dB per turn). Turns are separated by short
pauses or, with some probability, start before the previous turn ends (overlapped speech, mixed
additively). Everything is deterministic (seeded) and written under a cache directory outside the
repository (refdata's licence allows no copies in the repo)::

    python benchmarks/diarization_mixtures.py --out /tmp/uas-diar-mixtures
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SR = 16000
REPO = Path(__file__).resolve().parent.parent
REFDATA = REPO.parent / "shared" / "refdata"

SPEAKER_SOURCES: dict[str, list[str]] = {
    "libri_5703": ["asr/librispeech_librosa/5703-47212-0000.ogg"],
    "libri_3436": ["asr/librispeech_librosa/3436-172162-0000.ogg"],
    "libri_198": ["asr/librispeech_librosa/198-209-0000.ogg"],
    "sb_spk1": [f"asr/speechbrain_ASR/spk1_snt{i}.wav" for i in range(1, 6)],
    "emodb_03": [f"emotion_paralinguistics/emodb/{n}.wav"
                 for n in ("03a01Fa", "03a01Nc", "03a01Wa", "03a02Ta", "03a04Ad", "03a04Lc", "03b10Ec")],
    "jfk": ["asr/whisper/jfk.flac"],
    "stereo_left": ["asr/faster_whisper/stereo_diarization.wav#left"],
    "stereo_right": ["asr/faster_whisper/stereo_diarization.wav#right"],
    "mnist_02": ["emotion_paralinguistics/audiomnist/5_02_10.wav"],
}


@dataclass(frozen=True)
class MixtureSpec:
    speakers: tuple[str, ...]
    turns: int
    turn_s: tuple[float, float]
    gap_s: tuple[float, float] = (0.1, 0.8)
    overlap_prob: float = 0.0
    overlap_s: tuple[float, float] = (0.3, 1.0)
    backchannel: str | None = None
    """A speaker whose short pieces are dropped inside other speakers' turns (overlapped)."""
    backchannels: int = 0
    seed: int = 0


MIXTURES: dict[str, MixtureSpec] = {
    # three readers of one corpus (same channel), medium turns, some overlap
    "syn_libri3": MixtureSpec(("libri_5703", "libri_3436", "libri_198"), turns=14, turn_s=(2.0, 6.0),
                              overlap_prob=0.25, seed=1),
    # two readers, fast exchanges of short turns
    "syn_libri2_fast": MixtureSpec(("libri_3436", "libri_198"), turns=18, turn_s=(0.8, 2.5),
                                   gap_s=(0.05, 0.4), overlap_prob=0.2, overlap_s=(0.2, 0.6), seed=2),
    # four speakers from four corpora
    "syn_mixed4": MixtureSpec(("libri_5703", "sb_spk1", "emodb_03", "jfk"), turns=16, turn_s=(1.5, 5.0),
                              overlap_prob=0.2, seed=3),
    # two long-turn speakers and a third who only interjects, overlapped (back-channel)
    "syn_backchannel": MixtureSpec(("libri_5703", "sb_spk1"), turns=8, turn_s=(4.0, 8.0),
                                   backchannel="mnist_02", backchannels=5, seed=4),
    # a 4-speaker meeting-like mix with much overlap
    "syn_meeting4": MixtureSpec(("libri_198", "stereo_left", "stereo_right", "emodb_03"), turns=18,
                                turn_s=(1.0, 4.0), overlap_prob=0.4, overlap_s=(0.4, 1.5), seed=5),
    # single speakers (the count must be 1)
    "syn_single_libri": MixtureSpec(("libri_3436",), turns=6, turn_s=(2.0, 5.0), seed=6),
    "syn_single_emodb": MixtureSpec(("emodb_03",), turns=7, turn_s=(1.0, 3.0), seed=7),
    "syn_single_sb": MixtureSpec(("sb_spk1",), turns=6, turn_s=(1.5, 3.0), seed=8),
}


def load_source(entry: str, refdata: Path) -> np.ndarray:
    """Mono 16 kHz audio of a source (``path#left``/``#right`` picks a channel)."""
    from uas_pipeline.audio import load_audio, resample

    path, _, channel = entry.partition("#")
    if not channel:
        return load_audio(refdata / path, target_sr=SR)[0]
    import soundfile as sf

    data, sr = sf.read(refdata / path, dtype="float32", always_2d=True)
    return resample(data[:, 0 if channel == "left" else 1], sr, SR)


def speech_pieces(audio: np.ndarray, vad_model, min_s: float = 0.4) -> list[tuple[int, int]]:
    """Silero-VAD speech regions (samples) joined across pauses under 0.3 s."""
    import silero_vad
    import torch

    stamps = silero_vad.get_speech_timestamps(torch.from_numpy(audio.copy()), vad_model, sampling_rate=SR)
    vad_model.reset_states()
    pieces: list[tuple[int, int]] = []
    for s in stamps:
        if pieces and s["start"] - pieces[-1][1] < 0.3 * SR:
            pieces[-1] = (pieces[-1][0], s["end"])
        else:
            pieces.append((s["start"], s["end"]))
    return [p for p in pieces if p[1] - p[0] >= min_s * SR]


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0


class SpeechBank:
    """Speech pieces per speaker, loaded once."""

    def __init__(self, refdata: Path = REFDATA):
        import silero_vad

        self.refdata = refdata
        self._vad = silero_vad.load_silero_vad()
        self.pieces: dict[str, list[np.ndarray]] = {}

    def of(self, speaker: str) -> list[np.ndarray]:
        if speaker not in self.pieces:
            out = []
            for entry in SPEAKER_SOURCES[speaker]:
                audio = load_source(entry, self.refdata)
                found = speech_pieces(audio, self._vad, min_s=0.3)
                out.extend(audio[a:b] for a, b in found)
            if not out:
                raise RuntimeError(f"no speech found for {speaker}")
            self.pieces[speaker] = out
        return self.pieces[speaker]


def _cut(piece: np.ndarray, length_s: float, rng: np.random.Generator) -> np.ndarray:
    n = int(length_s * SR)
    if len(piece) <= n:
        return piece
    start = int(rng.integers(0, len(piece) - n + 1))
    return piece[start: start + n]


def build_mixture(spec: MixtureSpec, bank: SpeechBank) -> tuple[np.ndarray, list[tuple[float, float, str]]]:
    """The mixture's audio (mono float32, 16 kHz) and its reference turns ``(start, end, speaker)``."""
    rng = np.random.default_rng(spec.seed)
    levels = {s: 10 ** ((-26 + rng.uniform(-2, 2)) / 20) for s in (*spec.speakers, spec.backchannel) if s}
    placed: list[tuple[int, np.ndarray, str]] = []
    t = int(0.5 * SR)
    prev_end = t
    order = list(spec.speakers)
    for k in range(spec.turns):
        # rotate speakers, sometimes skipping one so the order is not fixed
        speaker = order[k % len(order)] if rng.random() > 0.3 or len(order) < 3 else order[int(rng.integers(len(order)))]
        if placed and placed[-1][2] == speaker and len(order) > 1:
            speaker = order[(order.index(speaker) + 1) % len(order)]
        pieces = bank.of(speaker)
        piece = _cut(pieces[int(rng.integers(len(pieces)))], rng.uniform(*spec.turn_s), rng)
        piece = piece * (levels[speaker] * 10 ** (rng.uniform(-1, 1) / 20) / max(_rms(piece), 1e-6))
        if placed and rng.random() < spec.overlap_prob:
            start = max(placed[-1][0] + int(0.3 * SR), prev_end - int(rng.uniform(*spec.overlap_s) * SR))
        else:
            start = prev_end + int(rng.uniform(*spec.gap_s) * SR)
        placed.append((start, piece.astype(np.float32), speaker))
        prev_end = max(prev_end, start + len(piece))
    if spec.backchannel:
        long_turns = [p for p in placed if len(p[1]) > 2.0 * SR]
        for _ in range(spec.backchannels):
            host = long_turns[int(rng.integers(len(long_turns)))]
            pieces = bank.of(spec.backchannel)
            piece = pieces[int(rng.integers(len(pieces)))]
            piece = piece * (levels[spec.backchannel] / max(_rms(piece), 1e-6))
            start = host[0] + int(rng.uniform(0.5, len(host[1]) / SR - 1.0) * SR)
            placed.append((start, piece.astype(np.float32), spec.backchannel))
    total = max(s + len(p) for s, p, _ in placed) + int(0.5 * SR)
    audio = np.zeros(total, dtype=np.float32)
    turns = []
    for start, piece, speaker in placed:
        audio[start: start + len(piece)] += piece
        turns.append((start / SR, (start + len(piece)) / SR, speaker))
    peak = float(np.max(np.abs(audio)))
    if peak > 0.99:
        audio *= 0.99 / peak
    return audio, sorted(turns)


def write_mixtures(out: Path, names: list[str] | None = None, refdata: Path = REFDATA) -> list[dict]:
    """Write ``NAME.wav`` + ``NAME.rttm`` for each mixture; returns manifest entries."""
    import soundfile as sf

    from uas_pipeline.diarization.scoring import write_rttm

    out.mkdir(parents=True, exist_ok=True)
    bank = SpeechBank(refdata)
    entries = []
    for name in names or list(MIXTURES):
        spec = MIXTURES[name]
        wav, rttm = out / f"{name}.wav", out / f"{name}.rttm"
        if not (wav.is_file() and rttm.is_file()):
            audio, turns = build_mixture(spec, bank)
            sf.write(wav, audio, SR, subtype="PCM_16")
            write_rttm(rttm, name, turns)
        n_speakers = len(set(spec.speakers) | ({spec.backchannel} if spec.backchannel else set()))
        entries.append({"id": name, "audio": str(wav), "rttm": str(rttm), "num_speakers": n_speakers})
    return entries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("/tmp/uas-diar-mixtures"))
    parser.add_argument("--refdata", type=Path, default=REFDATA)
    args = parser.parse_args()
    for e in write_mixtures(args.out, refdata=args.refdata):
        print(json.dumps(e))


if __name__ == "__main__":
    main()
