"""Training an audio LLM on UAS records: recipe, data, tokenizers, models, trainer, generation, evaluation.

Submodules import torch / transformers; this package itself imports nothing heavy.
"""
