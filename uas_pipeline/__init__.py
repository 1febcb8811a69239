"""uas-pipeline: raw audio to Unified Audio Schema (UAS) records."""

__version__ = "0.1.0"
