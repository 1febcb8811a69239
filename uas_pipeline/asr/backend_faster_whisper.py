""":class:`~uas_pipeline.asr.decoding.WhisperBackend` over a faster-whisper ``WhisperModel``
(CTranslate2): batched encoder, ``generate`` and word alignment. Import only from ``setup()``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from faster_whisper import WhisperModel
from faster_whisper.audio import pad_or_trim
from faster_whisper.tokenizer import Tokenizer
from faster_whisper.transcribe import get_suppressed_tokens

from .decoded import DecodedWord
from .decoding import DecodeSettings, Hypothesis
from .tokens import TokenSpan

PREPEND_PUNCTUATION = "\"'“¿([{-"
APPEND_PUNCTUATION = "\"'.。,，!！?？:：”)]}、"


class FasterWhisperBackend:
    def __init__(self, model: WhisperModel):
        self.model = model
        self.multilingual = bool(model.model.is_multilingual)
        self._tokenizers: dict[tuple[str, str], Tokenizer] = {}
        base = self.tokenizer("en", "transcribe")
        self.timestamp_begin = base.timestamp_begin
        self.eot = base.eot
        self._base = base

    def tokenizer(self, language: str, task: str) -> Tokenizer:
        key = (language, task)
        if key not in self._tokenizers:
            self._tokenizers[key] = Tokenizer(self.model.hf_tokenizer, self.multilingual, task=task, language=language)
        return self._tokenizers[key]

    def _features(self, audios: Sequence[np.ndarray]) -> np.ndarray:
        return np.stack([pad_or_trim(self.model.feature_extractor(a)[..., :-1]) for a in audios])

    def encode(self, audios: Sequence[np.ndarray]) -> tuple[Any, np.ndarray]:
        features = self._features(audios)
        return self.model.encode(features), features

    def subset(self, encoded: tuple[Any, np.ndarray], audios: Sequence[np.ndarray], indices: list[int]):
        output, features = encoded
        if list(indices) == list(range(features.shape[0])):
            return encoded
        if output.device == "cpu":  # slice the encoder output instead of encoding again
            import ctranslate2

            sliced = np.ascontiguousarray(np.asarray(output)[indices])
            return ctranslate2.StorageView.from_array(sliced), features[indices]
        return self.model.encode(features[indices]), features[indices]

    def _prompt(self, tokenizer: Tokenizer, s: DecodeSettings) -> list[int]:
        previous = tokenizer.encode(" " + s.initial_prompt.strip()) if s.initial_prompt else []
        return self.model.get_prompt(tokenizer, previous, without_timestamps=s.fixed_length, prefix=None,
                                     hotwords=s.hotwords)

    def generate(self, encoded: tuple[Any, np.ndarray], language: str, temperature: float,
                 s: DecodeSettings, max_new_tokens: int | None) -> list[Hypothesis]:
        tokenizer = self.tokenizer(language, s.task)
        prompt = self._prompt(tokenizer, s)
        n = encoded[1].shape[0]
        if temperature > 0:
            sampling = {"beam_size": 1, "num_hypotheses": s.best_of, "sampling_topk": 0,
                        "sampling_temperature": temperature}
        else:
            sampling = {"beam_size": s.beam_size}
        max_length = self.model.max_length
        if max_new_tokens is not None:
            max_length = min(max_length, len(prompt) + max_new_tokens)
        results = self.model.model.generate(
            encoded[0], [list(prompt) for _ in range(n)], length_penalty=1.0, max_length=max_length,
            return_scores=True, return_no_speech_prob=True, suppress_blank=True,
            suppress_tokens=list(get_suppressed_tokens(tokenizer, [-1])) + ([tokenizer.eot] if s.fixed_length else []),
            max_initial_timestamp_index=int(round(s.max_initial_timestamp / 0.02)), **sampling)
        hyps = []
        for r in results:
            tokens = list(r.sequences_ids[0])
            # CTranslate2 scores are cumulative log-probabilities divided by the length (penalty 1)
            avg_logprob = r.scores[0] * len(tokens) / (len(tokens) + 1)
            hyps.append(Hypothesis(tokens, float(avg_logprob), float(r.no_speech_prob), temperature,
                                   tokenizer.decode([t for t in tokens if t < self.timestamp_begin])))
        return hyps

    def align(self, encoded: tuple[Any, np.ndarray], language: str, spans: Sequence[Sequence[TokenSpan]],
              num_frames: Sequence[int], s: DecodeSettings) -> list[list[list[DecodedWord]]]:
        tokenizer = self.tokenizer(language, s.task)
        batch = [[{"seek": 0, "start": sp.start, "end": sp.end, "tokens": list(sp.tokens)} for sp in window]
                 for window in spans]
        self.model.add_word_timestamps(batch, tokenizer, encoded[0], list(num_frames), PREPEND_PUNCTUATION,
                                       APPEND_PUNCTUATION, 0.0)
        return [[[DecodedWord(w["word"], float(w["start"]), float(w["end"]), float(w["probability"]))
                  for w in seg.get("words", ())] for seg in window] for window in batch]

    def text(self, tokens: Sequence[int]) -> str:
        return self._base.decode([t for t in tokens if t < self.eot])

    def detect_language(self, audios: Sequence[np.ndarray]) -> list[tuple[str, float]]:
        encoder_output, _ = self.encode(audios)
        out = []
        for ranked in self.model.model.detect_language(encoder_output):
            token, prob = ranked[0]
            out.append((token[2:-2], float(prob)))
        return out
