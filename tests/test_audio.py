"""Tests for uas_pipeline.audio: all audio is synthesised in tmp_path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf

from uas_pipeline import audio
from uas_pipeline.audio import TARGET_SR, AudioError, AudioInfo, load_audio, probe, resample

FREQ = 1000.0
DUR_S = 3.0


def _stereo_sine(sr: int, dur_s: float = DUR_S, freq: float = FREQ) -> np.ndarray:
    """(n, 2) float32 sine, channels in phase with amplitudes 0.5 and 0.3 (mono mean: 0.4)."""
    t = np.arange(round(sr * dur_s)) / sr
    s = np.sin(2 * np.pi * freq * t)
    return np.stack([0.5 * s, 0.3 * s], axis=1).astype(np.float32)


def _encoder(*names: str) -> str | None:
    for name in names:
        try:
            av.codec.Codec(name, "w")
            return name
        except Exception:
            continue
    return None


def _write_pyav(path: Path, x: np.ndarray, sr: int, codec: str) -> None:
    """Encode (n, channels) float32 with a PyAV audio encoder; container chosen by suffix."""
    with av.open(str(path), "w") as c:
        s = c.add_stream(codec, rate=sr)
        s.layout = "stereo"
        s.format = "fltp"
        planar = np.ascontiguousarray(x.T)
        for i in range(0, planar.shape[1], 4096):
            fr = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(planar[:, i : i + 4096]), format="fltp", layout="stereo"
            )
            fr.sample_rate, fr.pts = sr, i
            c.mux(s.encode(fr))
        c.mux(s.encode(None))


def _write_sf(fmt: str, subtype: str) -> Callable[[Path, np.ndarray, int], None]:
    return lambda p, x, sr: sf.write(p, x, sr, format=fmt, subtype=subtype)


def _write_codec(*names: str) -> Callable[[Path, np.ndarray, int], None]:
    def write(p: Path, x: np.ndarray, sr: int) -> None:
        codec = _encoder(*names)
        if codec is None:
            pytest.skip(f"PyAV has none of the encoders {names}")
        _write_pyav(p, x, sr, codec)

    return write


# name -> (suffix, source rate, writer, lossless, expected AudioInfo.format)
FORMATS: dict[str, tuple[str, int, Callable[[Path, np.ndarray, int], None], bool, str]] = {
    "wav_int16": (".wav", 44100, _write_sf("WAV", "PCM_16"), True, "WAV"),
    "wav_float": (".wav", 48000, _write_sf("WAV", "FLOAT"), True, "WAV"),
    "flac": (".flac", 22050, _write_sf("FLAC", "PCM_16"), True, "FLAC"),
    "ogg_vorbis": (".ogg", 44100, _write_sf("OGG", "VORBIS"), False, "OGG"),
    "mp3": (".mp3", 44100, _write_codec("libmp3lame", "mp3"), False, "MP3"),
    "m4a_aac": (".m4a", 48000, _write_codec("aac"), False, "M4A/AAC"),
}


@pytest.fixture(scope="module")
def encoded(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], tuple[Path, int, bool, str]]:
    """Lazily encode each format once per module."""
    root = tmp_path_factory.mktemp("enc")
    cache: dict[str, tuple[Path, int, bool, str]] = {}

    def get(name: str) -> tuple[Path, int, bool, str]:
        if name not in cache:
            suffix, sr, write, lossless, fmt = FORMATS[name]
            p = root / f"{name}{suffix}"
            write(p, _stereo_sine(sr), sr)
            cache[name] = (p, sr, lossless, fmt)
        return cache[name]

    return get


def _peak_hz(y: np.ndarray, sr: int) -> float:
    spec = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    return float(np.fft.rfftfreq(len(y), 1 / sr)[np.argmax(spec)])


@pytest.mark.parametrize("name", list(FORMATS))
def test_round_trip(name: str, encoded: Callable[[str], tuple[Path, int, bool, str]]) -> None:
    path, sr, lossless, fmt = encoded(name)
    info = probe(path)
    assert info == AudioInfo(sr, 2, pytest.approx(DUR_S, abs=0.03), fmt)

    y, info2 = load_audio(path)
    assert info2 == info
    assert y.dtype == np.float32 and y.ndim == 1 and y.flags.c_contiguous
    assert abs(len(y) - DUR_S * TARGET_SR) <= (1 if lossless else 0.03 * TARGET_SR)
    assert np.abs(y).max() <= 1.0
    assert _peak_hz(y, TARGET_SR) == pytest.approx(FREQ, abs=2)
    mid = y[TARGET_SR // 2 : -TARGET_SR // 2]  # skip codec/resampler edges
    assert np.sqrt(np.mean(mid.astype(np.float64) ** 2)) == pytest.approx(0.4 / np.sqrt(2), rel=0.05)


@pytest.mark.parametrize("name", list(FORMATS))
def test_region_matches_full_decode(name: str, encoded: Callable[[str], tuple[Path, int, bool, str]]) -> None:
    path, sr, lossless, _ = encoded(name)
    full, _ = load_audio(path, target_sr=sr)
    # offsets past PyAV's pre-roll exercise the seek path; 2.2 s hit libsndfile's broken Ogg seek
    for off, dur in [(0.3, 0.5), (1.7, 0.8), (2.2, 0.5)]:
        part, _ = load_audio(path, offset_s=off, duration_s=dur, target_sr=sr)
        ref = full[round(off * sr) : round(off * sr) + round(dur * sr)]
        assert len(part) == len(ref) == round(dur * sr)
        if lossless:
            np.testing.assert_array_equal(part, ref)
        else:  # a one-sample misalignment of a 1 kHz sine would give errors of ~0.06-0.14
            assert np.abs(part - ref).max() < 0.01, off


def test_region_decodes_only_nearby_frames(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A short region late in a long AAC file must not decode the whole file."""
    sr, dur = 48000, 20.0
    p = tmp_path / "long.m4a"
    _write_pyav(p, _stereo_sine(sr, dur), sr, "aac")
    decoded: list[int] = []
    orig = audio._frame_to_array
    monkeypatch.setattr(audio, "_frame_to_array", lambda f: decoded.append(f.samples) or orig(f))
    y, _ = load_audio(p, offset_s=15.0, duration_s=0.5)
    assert len(y) == 8000
    assert sum(decoded) < 3 * sr  # ~1 s pre-roll + 0.5 s region, vs 20 s for a full decode


def test_region_to_end_and_resampled(encoded: Callable[[str], tuple[Path, int, bool, str]]) -> None:
    path, sr, _, _ = encoded("wav_int16")
    y, _ = load_audio(path, offset_s=2.5)
    assert len(y) == pytest.approx(0.5 * TARGET_SR, abs=1)
    y, _ = load_audio(path, offset_s=2.5, duration_s=10.0)  # past the end: clipped, not an error
    assert len(y) == pytest.approx(0.5 * TARGET_SR, abs=1)


def test_mono_source_and_int16_scaling(tmp_path: Path) -> None:
    p = tmp_path / "mono.wav"
    sf.write(p, np.full(1600, -32768, np.int16), 16000, subtype="PCM_16")
    y, info = load_audio(p)
    assert info.channels == 1 and len(y) == 1600
    np.testing.assert_array_equal(y, np.full(1600, -1.0, np.float32))


# --- error reasons -------------------------------------------------------------------------------


def _reason(path: Path, **kw: float) -> str:
    with pytest.raises(AudioError) as ei:
        load_audio(path, **kw)
    assert str(path) in str(ei.value)
    return ei.value.reason


def test_missing_file(tmp_path: Path) -> None:
    assert _reason(tmp_path / "nope.wav") == "not_found"
    with pytest.raises(AudioError, match="no such file"):
        probe(tmp_path / "nope.wav")


def test_empty_file(tmp_path: Path) -> None:
    p = tmp_path / "empty.wav"
    p.touch()
    assert _reason(p) == "empty_file"
    with pytest.raises(AudioError) as ei:
        probe(p)
    assert ei.value.reason == "empty_file"


def test_truncated_wav(tmp_path: Path) -> None:
    p = tmp_path / "cut.wav"
    sf.write(p, _stereo_sine(16000, 2.0), 16000, subtype="PCM_16")
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    assert probe(p).duration_s == pytest.approx(2.0)  # what the header promises
    assert sf.info(p).frames < 16000  # libsndfile silently clamps to the bytes present
    assert _reason(p) == "truncated"
    assert _reason(p, offset_s=1.5) == "truncated"  # region entirely in the missing part
    y, _ = load_audio(p, offset_s=0.1, duration_s=0.5)  # region inside the surviving data is fine
    assert len(y) == 8000


def test_text_renamed_wav(tmp_path: Path) -> None:
    p = tmp_path / "notes.wav"
    p.write_text("this is not audio\n" * 50)
    assert _reason(p) in ("unsupported_format", "decode_error")
    with pytest.raises(AudioError, match="soundfile.*PyAV"):
        probe(p)


def test_random_bytes(tmp_path: Path) -> None:
    p = tmp_path / "blob.xyz"
    p.write_bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    assert _reason(p) in ("unsupported_format", "decode_error")


def test_png_has_no_audio_stream(tmp_path: Path) -> None:
    p = tmp_path / "image.png"
    p.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(256))
    assert _reason(p) == "no_audio_stream"


def test_nan_samples(tmp_path: Path) -> None:
    p = tmp_path / "nan.wav"
    x = _stereo_sine(16000, 0.5)
    x[1234, 1] = np.nan
    sf.write(p, x, 16000, subtype="FLOAT")
    assert _reason(p) == "non_finite_samples"
    y, _ = load_audio(p, offset_s=0.1, duration_s=0.2)  # region without the NaN is fine
    assert np.isfinite(y).all()


def test_too_short(tmp_path: Path) -> None:
    p = tmp_path / "blip.wav"
    sf.write(p, _stereo_sine(16000, 0.01), 16000)
    assert _reason(p) == "too_short"
    y, _ = load_audio(p, min_duration_s=0.005)
    assert len(y) == 160


def test_offset_beyond_end(encoded: Callable[[str], tuple[Path, int, bool, str]]) -> None:
    for name in ("wav_int16", "m4a_aac"):
        path = encoded(name)[0]
        assert _reason(path, offset_s=DUR_S + 1) == "too_short"
        assert _reason(path, offset_s=DUR_S - 0.01) == "too_short"  # 10 ms left < min_duration_s


def test_corrupt_stream_is_decode_error(
    encoded: Callable[[str], tuple[Path, int, bool, str]], tmp_path: Path
) -> None:
    data = bytearray(encoded("m4a_aac")[0].read_bytes())
    i = data.find(b"mdat") + 64
    data[i : i + 20000] = np.random.default_rng(0).integers(0, 256, 20000, dtype=np.uint8).tobytes()
    p = tmp_path / "corrupt.m4a"
    p.write_bytes(bytes(data))
    assert _reason(p) == "decode_error"


# --- resample ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("sr_in", "sr_out"), [(44100, 16000), (16000, 48000), (22050, 16000)])
def test_resample(sr_in: int, sr_out: int) -> None:
    x = _stereo_sine(sr_in, 1.0)[:, 0]
    y = resample(x, sr_in, sr_out)
    assert y.dtype == np.float32 and y.flags.c_contiguous
    assert len(y) == int(np.ceil(len(x) * sr_out / sr_in))
    assert _peak_hz(y, sr_out) == pytest.approx(FREQ, abs=1)
    mid = y[sr_out // 10 : -sr_out // 10]
    assert np.abs(mid).max() == pytest.approx(0.5, abs=0.01)


def test_resample_identity() -> None:
    x = np.arange(10, dtype=np.int16)
    y = resample(x, 16000, 16000)
    assert y.dtype == np.float32 and len(y) == 10
