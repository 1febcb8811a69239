"""Measurement functions against signals of known truth."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.paraling_signals import SR, active_span, espeak, harmonic, monotone, noise, speech_regions, vowel
from uas_pipeline.paralinguistics import arousal, gender, levels
from uas_pipeline.paralinguistics.formants import apparent_vtl_cm, formant_dispersion
from uas_pipeline.paralinguistics.loudness import integrated_lufs
from uas_pipeline.paralinguistics.pitch import PitchTrack, guard_octaves, pitch_stats, track_pitch
from uas_pipeline.paralinguistics.rate import count_syllables, speaking_time, syllable_nuclei
from uas_pipeline.paralinguistics.snr import estimate_snr_db
from uas_pipeline.paralinguistics.voice_quality import measure_region

REPO = Path(__file__).resolve().parent.parent
SENTENCE = "The little boy carried a heavy basket of apples to the market every morning before school."
SENTENCE_SYLLABLES = 25  # the lit·tle boy car·ried a hea·vy bas·ket of ap·ples to the mar·ket ev·ery mor·ning be·fore school


@pytest.fixture(scope="module")
def sentence() -> np.ndarray:
    return espeak(SENTENCE, speed_wpm=150)


# --- pitch -----------------------------------------------------------------------------------------

@pytest.mark.slow  # first pYIN call compiles librosa's numba kernels
@pytest.mark.parametrize("f0", [85.0, 140.0, 260.0])
def test_pyin_mean_f0_of_harmonic_signal_within_3_percent(f0):
    track, _ = guard_octaves(track_pitch(harmonic(f0, 0.8), SR, method="pyin"))
    stats = pitch_stats(track)
    assert stats is not None and abs(stats.mean_hz - f0) / f0 < 0.03
    assert stats.std_hz < 0.03 * f0


@pytest.mark.slow
@pytest.mark.parametrize("f0", [95.0, 220.0])
def test_espeak_speech_resynthesised_at_known_pitch(sentence, f0):
    speech = monotone(sentence, f0)
    for method in ("pyin", "praat"):
        stats = pitch_stats(guard_octaves(track_pitch(speech, SR, method=method))[0])
        assert stats is not None and abs(stats.mean_hz - f0) / f0 < 0.03, (method, stats)


def test_espeak_pitch_setting_orders_mean_f0():
    text = "We measure the pitch of this voice."
    low = pitch_stats(track_pitch(espeak(text, pitch=20), SR, method="praat"))
    high = pitch_stats(track_pitch(espeak(text, pitch=80), SR, method="praat"))
    assert low is not None and high is not None and high.mean_hz > 1.15 * low.mean_hz


def test_octave_guard_folds_injected_octave_errors():
    times = np.arange(200) * 0.01
    truth = 120 + 10 * np.sin(np.linspace(0, 3, 200))
    f0 = truth.copy()
    f0[40:55] *= 2.0      # a stretch locked on the second harmonic inside a voiced run
    f0[120:130] *= 0.5    # a sub-harmonic stretch
    f0[150:152] = np.nan  # a gap: the run after it is its own run
    f0[152:160] *= 2.0    # a whole short run an octave up
    raw = pitch_stats(PitchTrack(times, f0, 0.01))
    fixed, changed = guard_octaves(PitchTrack(times, f0, 0.01))
    stats = pitch_stats(fixed)
    assert changed == 15 + 10 + 8
    np.testing.assert_allclose(fixed.f0_hz[np.isfinite(f0)], truth[np.isfinite(f0)], rtol=1e-9)
    assert abs(stats.mean_hz - np.nanmean(truth[np.isfinite(f0)])) < 0.5
    assert raw.std_hz > 4 * stats.std_hz


def test_octave_guard_keeps_real_intonation():
    times = np.arange(300) * 0.01
    f0 = 100 * 2 ** (np.linspace(0, 7, 300) / 12)  # a 7-semitone rise, no errors
    fixed, changed = guard_octaves(PitchTrack(times, f0, 0.01))
    assert changed == 0


@pytest.mark.slow
def test_crepe_tracker_agrees(sentence):
    speech = monotone(sentence[: SR * 2], 150.0)
    stats = pitch_stats(track_pitch(speech, SR, method="crepe"))
    assert stats is not None and abs(stats.mean_hz - 150.0) / 150.0 < 0.03


# --- speaking rate ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "language", "expected"), [
    (SENTENCE, "en", SENTENCE_SYLLABLES),
    ("Heute abend könnte ich es ihm sagen.", "de", 11),
    ("Buenos días, ¿cómo estás?", "es", 8),
    ("Je ne sais pas pourquoi elle est partie", "fr", 10),
    ("Здравствуйте, как дела?", "ru", 6),
    ("今天天气很好", "zh", 6),
    ("안녕하세요", "ko", 5),
    ("きょうはいいてんきですね", "ja", 11),
])
def test_syllable_count_from_text(text, language, expected):
    assert count_syllables(text, language) == expected


def test_syllable_count_unknown_script_defers_to_acoustics():
    assert count_syllables("شكرا جزيلا", "ar") is None
    assert count_syllables("", "en") is None


def test_speaking_time_drops_long_pauses():
    words = [(0.0, 0.4), (0.5, 0.9), (2.0, 2.5)]
    assert speaking_time(words, max_pause_s=0.5) == pytest.approx(0.9 + 0.5)


@pytest.mark.slow
def test_acoustic_syllable_rate_of_espeak_at_known_rates():
    measured = []
    for wpm in (110, 160, 220):
        audio = espeak(SENTENCE, speed_wpm=wpm)
        start, end = active_span(audio)
        track = track_pitch(audio, SR, method="praat")
        nuclei = syllable_nuclei(audio, SR, [(start, end)], track.times[np.isfinite(track.f0_hz)])
        truth = SENTENCE_SYLLABLES / (end - start)
        rate = nuclei / (end - start)
        assert abs(rate - truth) / truth <= 0.15, (wpm, rate, truth)
        measured.append(rate)
    assert measured == sorted(measured)


# --- loudness --------------------------------------------------------------------------------------

def test_loudness_of_calibrated_sine():
    t = np.arange(3 * SR) / SR
    sine = 0.1 * np.sin(2 * np.pi * 997 * t)  # -20 dBFS peak: BS.1770 reads -23.01 LUFS (mono)
    assert integrated_lufs(sine, SR) == pytest.approx(-23.01, abs=0.15)
    assert integrated_lufs(sine * 10 ** (-10 / 20), SR) == pytest.approx(-33.01, abs=0.15)
    assert integrated_lufs(np.zeros(SR), SR) is None


# --- SNR -------------------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("kind", ["white", "pink"])
def test_snr_of_speech_mixed_at_known_snr(sentence, kind):
    clean = np.concatenate([np.zeros(SR // 2), sentence, np.zeros(SR // 2)]).astype(float)
    regions = speech_regions(clean)
    hop = SR // 100
    idx = np.concatenate([np.arange(int(s * SR), int(e * SR)) for s, e in regions])
    speech_power = np.mean(clean[idx] ** 2)
    unit = noise(kind, len(clean))
    for snr in (0, 5, 10, 15, 20):
        mix = clean + unit * np.sqrt(speech_power / 10 ** (snr / 10))
        with_vad = estimate_snr_db(mix, SR, regions)
        energy_only = estimate_snr_db(mix, SR)
        assert abs(with_vad - snr) <= 3.0, (kind, snr, with_vad)
        assert abs(energy_only - snr) <= 3.0, (kind, snr, energy_only)
    assert hop > 0


def test_snr_of_silence_is_none():
    assert estimate_snr_db(np.zeros(SR), SR) is None


# --- DNSMOS ----------------------------------------------------------------------------------------

@pytest.mark.slow
def test_dnsmos_scores_noisy_mix_below_clean(sentence):
    from uas_pipeline.paralinguistics.quality import Dnsmos

    dnsmos = Dnsmos()
    clean = dnsmos.score(sentence)
    noisy_audio = sentence + 0.5 * np.sqrt(np.mean(sentence**2)) * noise("white", len(sentence)).astype(np.float32)
    noisy = dnsmos.score(np.clip(noisy_audio, -1, 1))
    assert clean is not None and noisy is not None
    for score in (clean, noisy):
        assert 1 <= score.sig <= 5 and 1 <= score.bak <= 5 and 1 <= score.ovrl <= 5
    assert noisy.bak < clean.bak - 0.5
    assert noisy.ovrl < clean.ovrl


# --- voice quality ---------------------------------------------------------------------------------

def test_voice_quality_orders_clean_and_rough_voices():
    clean = measure_region(harmonic(120, 1.0), SR)
    rough_signal = harmonic(120, 1.0, jitter=0.03) + 0.05 * noise("white", SR).astype(np.float32)
    rough = measure_region(rough_signal, SR)
    assert clean is not None and rough is not None
    assert clean.hnr_db > rough.hnr_db + 5
    assert clean.jitter < 0.005 < rough.jitter
    assert measure_region(np.zeros(SR, dtype=np.float32), SR) is None


# --- formants, gender ------------------------------------------------------------------------------

@pytest.mark.parametrize("vtl", [14.5, 17.0])
def test_formant_dispersion_of_tube_vowel_gives_its_length(vtl):
    audio = vowel(110.0, vtl)
    times = np.arange(10, 90) * 0.01
    dispersion = formant_dispersion(audio, SR, [(0.0, 1.0)], times)
    assert dispersion is not None
    assert abs(apparent_vtl_cm(dispersion) - vtl) / vtl < 0.05


def test_gender_rule_on_cues():
    male = gender.classify(gender.GenderCues(115.0, -13.0, 1020.0, 2.0))
    female = gender.classify(gender.GenderCues(215.0, -13.0, 1190.0, 2.0))
    assert (male.label, female.label) == ("male", "female")
    assert male.confidence > 0.9 and female.confidence > 0.9
    # A raised male voice: F0 in the female range but flat spectral tilt and a long vocal tract.
    shouting = gender.classify(gender.GenderCues(200.0, -1.0, 1080.0, 2.0))
    assert shouting.label == "male"
    # Without the effort and formant cues the same F0 reads female: the cues matter.
    assert gender.classify(gender.GenderCues(200.0, None, None, 2.0)).label == "female"
    ambiguous = gender.classify(gender.GenderCues(160.0, -12.0, 1110.0, 2.0))
    assert ambiguous.confidence < 0.75
    assert gender.classify(gender.GenderCues(None, None, None, 0.0)).label == "unknown"


def test_gender_cues_from_tube_vowels():
    male = gender.classify(gender.measure_cues(vowel(110.0, 17.0), SR, [(0.0, 1.0)]))
    female = gender.classify(gender.measure_cues(vowel(220.0, 14.5), SR, [(0.0, 1.0)]))
    assert (male.label, female.label) == ("male", "female")


# --- arousal ---------------------------------------------------------------------------------------

def test_arousal_is_calibrated_and_monotone():
    read = arousal.ArousalCues(*(arousal.ANCHORS[k][0] for k in ("alpha_ratio_db", "f0_std_st", "nuclei_per_s")))
    assert arousal.arousal_value(read) == pytest.approx(0.5)
    two_up = arousal.ArousalCues(*(m + 2 * s for m, s in (arousal.ANCHORS[k] for k in
                                                            ("alpha_ratio_db", "f0_std_st", "nuclei_per_s"))))
    assert arousal.arousal_value(two_up) == pytest.approx(0.9, abs=0.01)
    values = [arousal.arousal_value(arousal.ArousalCues(a, 2.5, 4.0)) for a in (-20, -10, -5, 0, 5)]
    assert values == sorted(values) and 0 < values[0] < values[-1] < 1
    assert arousal.arousal_value(arousal.ArousalCues(None, 3.0, 4.0)) is None
    assert arousal.arousal_value(arousal.ArousalCues(-7.0, None, None)) == pytest.approx(0.5)


# --- levels ----------------------------------------------------------------------------------------

def test_levels_file_bins_and_is_in_step_with_schemas_copy():
    packaged = levels.resolve(levels.BUNDLED)
    assert json.loads(packaged.read_text()) == json.loads((REPO / "schemas" / "levels-v1.json").read_text())
    edges = levels.load_edges()
    assert edges.level("pitch", 120.0, "male") == "medium"
    assert edges.level("pitch", 120.0, "female") == "very_low"
    assert edges.level("pitch", 300.0, None) == "very_high"
    assert edges.level("arousal", 0.5) == "medium"
    assert edges.level("arousal", 0.8) == "very_high"  # edges are inclusive below
    assert edges.level("loudness", None) is None
    assert levels.level_of(0.0, [1, 2, 3, 4]) == "very_low"


def test_percentile_edges():
    assert levels.percentile_edges(range(101)) == [10.0, 30.0, 70.0, 90.0]
    assert levels.percentile_edges([1.0, 1.0, 2.0]) is None
    with pytest.raises(ValueError):
        levels.AttributeEdges(field="x", edges=[1, 1, 2, 3])
