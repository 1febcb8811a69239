""":class:`~uas_pipeline.asr.decoding.WhisperBackend` over an openai-whisper ``Whisper`` model (PyTorch):
batched log-mel and encoder, batched ``whisper.decode`` on the encoder output, and word alignment from
cross-attention on that same encoder output (no second encoder pass). Import only from ``setup()``.

Audio is always passed as arrays: openai-whisper reads files through the ``ffmpeg`` command.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import torch
import whisper
from whisper.audio import N_SAMPLES, log_mel_spectrogram, pad_or_trim
from whisper.decoding import DecodingTask
from whisper.model import disable_sdpa
from whisper.timing import dtw, median_filter, merge_punctuations
from whisper.tokenizer import Tokenizer, get_tokenizer

from .decoded import DecodedWord
from .decoding import DecodeSettings, Hypothesis
from .tokens import TokenSpan

PREPEND_PUNCTUATION = "\"'“¿([{-"
APPEND_PUNCTUATION = "\"'.。,，!！?？:：”)]}、"
FRAMES_PER_TOKEN_TIME = 50  # encoder positions per second
MEDIAN_FILTER_WIDTH = 7


@lru_cache(maxsize=1)
def _task_repeats_features() -> bool:
    """Whether this openai-whisper's ``DecodingTask.run`` repeats the audio features for each beam
    (20250625 does not, so batched beam search fails with a shape error)."""
    return "audio_features.repeat_interleave" in inspect.getsource(DecodingTask.run)


class _BatchedTask(DecodingTask):
    """A decoding task that gives every beam (or sample) of every window its window's features."""

    def _get_audio_features(self, mel: torch.Tensor) -> torch.Tensor:
        return super()._get_audio_features(mel).repeat_interleave(self.n_group, dim=0)

    def _detect_language(self, audio_features: torch.Tensor, tokens: torch.Tensor):
        return super()._detect_language(audio_features[:: self.n_group], tokens)


def decode_batch(model: whisper.Whisper, features: torch.Tensor, options: whisper.DecodingOptions) -> list:
    """``whisper.decode`` on a batch of log-mel windows or encoder outputs, beam search included."""
    if features.ndim == 2:
        features = features.unsqueeze(0)
    groups = options.beam_size or options.best_of or 1
    if len(features) == 1 or groups == 1 or _task_repeats_features():
        return whisper.decode(model, features, options)
    return _BatchedTask(model, options).run(features)


def half_precision(model: whisper.Whisper) -> whisper.Whisper:
    """The model in float16 except its layer norms: openai-whisper's ``LayerNorm`` computes in float32
    (it casts its input up), so float16 norm weights fail ("expected scalar type Float but found Half").
    Its linear and convolution layers cast their weights to the input's type, so float32 weights would
    work too, but would be cast again on every call."""
    model = model.half()
    for module in model.modules():
        if isinstance(module, torch.nn.LayerNorm):
            module.float()
    return model


class _Timing:
    """A word as the aligner sees it (``merge_punctuations`` edits these in place)."""

    def __init__(self, word: str, tokens: list[int], start: float, end: float, probability: float):
        self.word, self.tokens, self.start, self.end, self.probability = word, tokens, start, end, probability


class OpenAIWhisperBackend:
    def __init__(self, model: whisper.Whisper, device: str):
        self.model = model
        self.device = torch.device(device)
        # decode in the model's own precision (see half_precision)
        self.fp16 = model.encoder.conv1.weight.dtype == torch.float16
        self.multilingual = bool(model.is_multilingual)
        self._tokenizers: dict[tuple[str, str], Tokenizer] = {}
        base = self.tokenizer("en", "transcribe")
        self._base = base
        self.timestamp_begin = base.timestamp_begin
        self.eot = base.eot

    def tokenizer(self, language: str, task: str) -> Tokenizer:
        key = (language, task)
        if key not in self._tokenizers:
            self._tokenizers[key] = get_tokenizer(self.multilingual, num_languages=self.model.num_languages,
                                                  language=language if self.multilingual else None,
                                                  task=task if self.multilingual else None)
        return self._tokenizers[key]

    def mel(self, audios: Sequence[np.ndarray]) -> torch.Tensor:
        """Log-mel of each window padded to 30 s, stacked: ``(n, n_mels, 3000)``."""
        n_mels = self.model.dims.n_mels
        mels = [log_mel_spectrogram(pad_or_trim(torch.from_numpy(np.array(a, dtype=np.float32)), N_SAMPLES),
                                    n_mels, device=self.device) for a in audios]
        return pad_or_trim(torch.stack(mels), 3000)

    @torch.no_grad()
    def encode(self, audios: Sequence[np.ndarray]) -> torch.Tensor:
        mel = self.mel(audios)
        return self.model.embed_audio(mel.half() if self.fp16 else mel)

    def subset(self, encoded: torch.Tensor, audios: Sequence[np.ndarray], indices: list[int]) -> torch.Tensor:
        return encoded[indices]

    def _prompt(self, s: DecodeSettings) -> str | None:
        parts = [p.strip() for p in (s.hotwords, s.initial_prompt) if p and p.strip()]
        return " " + " ".join(parts) if parts else None

    @torch.no_grad()
    def generate(self, encoded: torch.Tensor, language: str, temperature: float,
                 s: DecodeSettings, max_new_tokens: int | None) -> list[Hypothesis]:
        options = whisper.DecodingOptions(
            task=s.task, language=language if self.multilingual else "en", temperature=temperature,
            beam_size=s.beam_size if temperature == 0 else None, best_of=s.best_of if temperature > 0 else None,
            prompt=self._prompt(s), without_timestamps=s.fixed_length, max_initial_timestamp=s.max_initial_timestamp,
            suppress_tokens=[-1, self.eot] if s.fixed_length else "-1", fp16=self.fp16,
            sample_len=min(max_new_tokens, self.model.dims.n_text_ctx // 2) if max_new_tokens else None)
        results = decode_batch(self.model, encoded, options)
        return [Hypothesis(list(r.tokens), float(r.avg_logprob), float(r.no_speech_prob), temperature, r.text)
                for r in results]

    def text(self, tokens: Sequence[int]) -> str:
        return self._base.decode([t for t in tokens if t < self.eot])

    @torch.no_grad()
    def detect_language(self, audios: Sequence[np.ndarray]) -> list[tuple[str, float]]:
        encoded = self.encode(audios)
        _, probs = self.model.detect_language(encoded, self.tokenizer("en", "transcribe"))
        out = []
        for p in probs if isinstance(probs, list) else [probs]:
            code = max(p, key=p.get)
            out.append((code, float(p[code])))
        return out

    # --- word alignment ---------------------------------------------------------------------------

    def align(self, encoded: torch.Tensor, language: str, spans: Sequence[Sequence[TokenSpan]],
              num_frames: Sequence[int], s: DecodeSettings) -> list[list[list[DecodedWord]]]:
        tokenizer = self.tokenizer(language, s.task)
        return [self._align_window(encoded[i:i + 1], tokenizer, window, num_frames[i])
                for i, window in enumerate(spans)]

    @torch.no_grad()
    def _align_window(self, features: torch.Tensor, tokenizer: Tokenizer, spans: Sequence[TokenSpan],
                      num_frames: int) -> list[list[DecodedWord]]:
        """Words of each span: dynamic time warping over the alignment heads' cross-attention of the
        text tokens on the window's encoder output, as Whisper times words."""
        text = [t for sp in spans for t in sp.tokens]
        if not text:
            return [[] for _ in spans]
        sot = list(tokenizer.sot_sequence) + [tokenizer.no_timestamps]
        tokens = torch.tensor([sot + text + [tokenizer.eot]], device=self.device)
        layers = len(self.model.decoder.blocks)
        attention: list[torch.Tensor | None] = [None] * layers
        hooks = [block.cross_attn.register_forward_hook(
                 lambda _m, _i, out, k=k: attention.__setitem__(k, out[-1][0]))
                 for k, block in enumerate(self.model.decoder.blocks)]
        try:
            with disable_sdpa():
                logits = self.model.decoder(tokens, features)[0]
        finally:
            for h in hooks:
                h.remove()
        # the logits at a position predict the next token: from the no-timestamps token on
        probs = logits[len(sot) - 1: len(sot) - 1 + len(text), : tokenizer.eot].float().softmax(dim=-1)
        token_probs = probs[torch.arange(len(text)), torch.tensor(text)].cpu().numpy()
        heads = self.model.alignment_heads.indices().T.tolist()
        weights = torch.stack([attention[layer][head] for layer, head in heads]).float().cpu()
        weights = weights[:, :, : max(1, num_frames // 2)].softmax(dim=-1)
        std, mean = torch.std_mean(weights, dim=-2, keepdim=True, unbiased=False)
        weights = median_filter((weights - mean) / std.clamp_min(1e-9), MEDIAN_FILTER_WIDTH)
        matrix = weights.mean(dim=0)[len(sot) - 1: len(sot) + len(text)]  # one row per predicted token + end
        text_idx, time_idx = dtw(-matrix)

        words, word_tokens = tokenizer.split_to_word_tokens(text + [tokenizer.eot])
        if len(word_tokens) <= 1:
            return [[] for _ in spans]
        bounds = np.concatenate([[0], np.cumsum([len(t) for t in word_tokens[:-1]])])
        jumps = np.concatenate([[True], np.diff(text_idx) != 0])
        times = time_idx[jumps] / FRAMES_PER_TOKEN_TIME
        timings = [_Timing(w, t, float(times[a]), float(times[b]), float(np.mean(token_probs[a:b])) if b > a else 0.0)
                   for w, t, a, b in zip(words[:-1], word_tokens[:-1], bounds[:-1], bounds[1:], strict=True)]
        merge_punctuations(timings, PREPEND_PUNCTUATION, APPEND_PUNCTUATION)
        # hand the words out to the spans they were decoded in, by token count
        out: list[list[DecodedWord]] = []
        k = 0
        for sp in spans:
            taken, words_here = 0, []
            while k < len(timings) and taken < len(sp.tokens):
                t = timings[k]
                if t.word:
                    words_here.append(DecodedWord(t.word, t.start, max(t.end, t.start), t.probability))
                taken += len(t.tokens)
                k += 1
            out.append(words_here)
        return out
