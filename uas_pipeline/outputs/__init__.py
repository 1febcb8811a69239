"""Typed outputs of each stage (shared by its backends), kept light: no model libraries imported here."""
