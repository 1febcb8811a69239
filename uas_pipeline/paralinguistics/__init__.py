"""Paralinguistic measurements: pure functions on mono float32 numpy audio.

Each module measures one attribute with no model training needed (pitch, speaking rate, loudness,
voice quality, SNR, arousal, the acoustic gender rule) or wraps a pluggable model (DNSMOS quality,
``transformers`` audio classifiers). Heavy libraries (librosa, parselmouth, pyloudnorm,
onnxruntime, transformers, torchcrepe) are imported inside the functions that need them, so the
stage modules stay cheap to import. ``docs/paralinguistics.md`` documents every method.
"""
