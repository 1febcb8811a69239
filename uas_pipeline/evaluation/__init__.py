"""Evaluation of UAS records against references (``uas-pipeline eval``; docs/evaluation.md).

The text helpers are importable from here: ``normalize_text``, ``edit_distance``, ``pooled_wer``,
``word_errors``. The command's pieces: :mod:`.references` (reference manifests), :mod:`.join`
(records ↔ references), :mod:`.stitch` (regions of long files), :mod:`.registry` (metric families
and plug-ins), :mod:`.runner` (scoring, table, JSON), :mod:`.cli` (argparse wiring).
"""

from .text import NORMALISER, WordErrors, edit_distance, normalize_text, pooled_wer, word_errors

__all__ = ["NORMALISER", "WordErrors", "edit_distance", "normalize_text", "pooled_wer", "word_errors"]
