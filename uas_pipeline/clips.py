"""What is known about a clip before and after probing (a leaf module: inputs, tasks and stages use it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

HINT_KEYS = ("language", "num_speakers", "min_speakers", "max_speakers")
"""Per-clip hints a manifest line may carry (top level or under ``"hints"``); stages may use them."""


@dataclass
class ClipRef:
    """An input entry as listed, before its header is read."""

    id: str
    source: str
    offset_s: float = 0.0
    duration_s: float | None = None
    """Length of the requested region; ``None`` means to the end of the file."""
    region: bool = False
    """True when the clip is a region of a longer file (``clip.offset_s`` is then recorded)."""
    hints: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ClipInfo:
    """A clip as stages see it: one region of a source file, probed."""

    id: str
    source: str
    duration_s: float
    """Seconds of this clip (the region)."""
    sample_rate: int
    """Of the source file (recorded in the record's ``clip``)."""
    channels: int
    offset_s: float = 0.0
    region: bool = False
    region_index: int = 0
    region_count: int = 1
    """Regions the source entry was split into; ids of split files end in ``#rNNNN``."""
    file_id: str = ""
    """The input entry's id (shared by the regions of one file)."""
    hints: dict[str, Any] = field(default_factory=dict)
