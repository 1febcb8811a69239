"""Speaking rate: words and syllables per second of speaking time.

Speaking time of a unit (a segment, a speaker) is the time covered by its words, with pauses
between words longer than ``max_pause_s`` (0.5 s) left out: hesitations slow the rate a little,
silences between sentences do not. Without word timestamps the segment spans are used.

Syllables are counted from the transcript where the script says how (:func:`count_syllables`):

* Han characters (Chinese, Japanese kanji): one syllable each; Hangul blocks: one each;
  kana: one mora each (small ゃゅょ and the long-vowel mark join the previous one);
* Latin, Cyrillic and Greek scripts: one syllable per group of adjacent vowel letters
  (accented vowels included; ``y`` counts as a vowel except at the start of a word; accented
  ``í``/``ú`` next to a vowel are a hiatus, as in Spanish and Portuguese). Languages
  with known silent letters get rules: English (silent final ``e`` / ``es`` / ``ed`` after most
  consonants, ``-le`` endings), French (silent final ``e``/``es``/``ent``). This is exact for
  most words of languages whose vowel letters map to nuclei (es, it, de, nl, pt, pl, cs, ru, uk,
  fi …) and within about 10 % for English and French text;
* other scripts (Arabic, Hebrew, Indic …) or no transcript: the acoustic count below.

Acoustic syllable nuclei (after de Jong & Wempe 2009, language-independent): peaks of the
300–3000 Hz band energy (10 ms frames, smoothed over 50 ms) that stand at least ``prominence_db``
above the dips around them, lie within 25 dB of the loudest frame, fall on voiced frames, and are
at least 80 ms apart.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

import numpy as np

from .spans import Region, merge_regions

MAX_PAUSE_S = 0.5

_VOWELS_LATIN = set("aeiouyàáâãäåæèéêëìíîïòóôõöøùúûüýÿœąęėįųūůěǎǐǒǔ")
_VOWELS_CYRILLIC = set("аеёиоуыэюяіїєў")
_VOWELS_GREEK = set("αεηιουωάέήίόύώϊϋΐΰ")
_SMALL_KANA = set("ゃゅょぁぃぅぇぉゎャュョァィゥェォヮー")
TEXT_SCRIPTS = ("latin", "cyrillic", "greek", "han", "hangul", "kana")


def _script(ch: str) -> str | None:
    code = ord(ch)
    if 0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF:
        return "han"
    if 0xAC00 <= code <= 0xD7AF:
        return "hangul"
    if 0x3040 <= code <= 0x30FF:
        return "kana"
    if ch.isalpha():
        name = unicodedata.name(ch, "")
        for script in ("LATIN", "CYRILLIC", "GREEK"):
            if name.startswith(script):
                return script.lower()
        return "other"
    return None


_HIATUS = set("íúìù")
"""Accented i/u are stressed nuclei of their own next to another vowel (es, pt: "días", "baúl")."""


def _vowel_groups(word: str, vowels: set[str]) -> int:
    groups, prev = 0, False
    for i, ch in enumerate(word):
        is_vowel = ch in vowels and not (ch == "y" and i == 0)
        if is_vowel and (not prev or ch in _HIATUS or word[i - 1] in _HIATUS):
            groups += 1
        prev = is_vowel
    return groups


def _english_word(word: str) -> int:
    n = _vowel_groups(word, _VOWELS_LATIN)
    if n > 1 and re.search(r"[^aeiouy]e$", word) and not re.search(r"[^aeiouy]le$", word):
        n -= 1  # silent final e: "make", but "table" keeps its syllabic -le
    elif n > 1 and re.search(r"[^aeiouytd]ed$", word):
        n -= 1  # "jumped", but "wanted" keeps -ed
    elif n > 1 and re.search(r"[^aeiouyszcgx]es$", word) and not re.search(r"(ch|sh)es$", word):
        n -= 1  # "makes", but "boxes", "wishes" keep -es
    return max(1, n)


def _french_word(word: str) -> int:
    n = _vowel_groups(word, _VOWELS_LATIN)
    if n > 1 and re.search(r"[^aeiouyéè](e|es|ent)$", word):
        n -= 1
    return max(1, n)


def count_syllables(text: str, language: str | None = None) -> int | None:
    """Syllables in ``text``; ``None`` when its script has no rule here (use the acoustic count)."""
    total = 0
    counted = False
    lang = (language or "").lower()[:2]
    for word in re.findall(r"\w+", text.lower()):
        scripts = {_script(ch) for ch in word} - {None}
        if not scripts:
            continue  # digits only: their spoken form is unknown here
        if scripts & {"han", "hangul", "kana"}:
            total += sum(1 for ch in word if _script(ch) in ("han", "hangul")
                         or (_script(ch) == "kana" and ch not in _SMALL_KANA))
            counted = True
        elif scripts == {"latin"}:
            total += _english_word(word) if lang == "en" else _french_word(word) if lang == "fr" else max(
                1, _vowel_groups(word, _VOWELS_LATIN))
            counted = True
        elif scripts == {"cyrillic"}:
            total += max(1, _vowel_groups(word, _VOWELS_CYRILLIC))
            counted = True
        elif scripts == {"greek"}:
            total += max(1, _vowel_groups(word, _VOWELS_GREEK))
            counted = True
        else:
            return None
    return total if counted else None


def speaking_time(words: Sequence[tuple[float, float]], max_pause_s: float = MAX_PAUSE_S) -> float:
    """Seconds covered by word spans, joining pauses up to ``max_pause_s``."""
    return sum(e - s for s, e in merge_regions(words, gap_s=max_pause_s))


class NucleiDetector:
    """Acoustic syllable nuclei; the band envelope is computed once per clip and reused per unit."""

    def __init__(self, audio: np.ndarray, sr: int, hop_s: float = 0.01):
        from scipy.signal import butter, sosfiltfilt

        self.hop_s = hop_s
        hop = int(round(hop_s * sr))
        sos = butter(4, [300, min(3000, 0.45 * sr)], btype="bandpass", fs=sr, output="sos")
        x = np.asarray(audio, dtype=np.float64)
        band = sosfiltfilt(sos, x) if len(x) > 64 else np.zeros(len(x))
        n = len(band) // hop
        power = np.mean(band[: n * hop].reshape(n, hop) ** 2, axis=1)
        smooth = np.convolve(power, np.ones(5) / 5, mode="same")  # 50 ms
        self.db = 10 * np.log10(smooth + 1e-12)
        self.times = (np.arange(n) + 0.5) * hop_s

    def count(
        self,
        regions: Iterable[Region],
        voiced_times: np.ndarray | None = None,
        prominence_db: float = 2.0,
        min_distance_s: float = 0.08,
        dynamic_range_db: float = 25.0,
    ) -> int:
        """Syllable nuclei inside ``regions``; with ``voiced_times`` (frame times that have F0),
        only peaks on voiced frames count."""
        from scipy.signal import find_peaks

        n = len(self.db)
        voiced = None
        if voiced_times is not None and n:
            voiced = np.zeros(n, dtype=bool)
            idx = np.clip(np.round(np.asarray(voiced_times) / self.hop_s - 0.5).astype(int), 0, n - 1)
            voiced[idx] = True
            voiced = np.convolve(voiced, np.ones(3), mode="same") > 0  # tolerate one frame of offset
        count = 0
        for start, end in merge_regions(regions):
            sel = np.flatnonzero((self.times >= start) & (self.times < end))
            if len(sel) < 3:
                continue
            seg = self.db[sel]
            peaks, _ = find_peaks(seg, prominence=prominence_db, distance=max(1, int(min_distance_s / self.hop_s)))
            peaks = peaks[seg[peaks] >= seg.max() - dynamic_range_db]
            if voiced is not None:
                peaks = peaks[voiced[sel[peaks]]]
            count += len(peaks)
        return count


def syllable_nuclei(audio: np.ndarray, sr: int, regions: Iterable[Region], voiced_times: np.ndarray | None = None
                    ) -> int:
    """Acoustic syllable count over ``regions`` (see :class:`NucleiDetector`)."""
    return NucleiDetector(audio, sr).count(regions, voiced_times)
