"""File-level speaker ids for a long file annotated in regions.

Each region is diarized on its own, so its speakers are numbered from ``SPEAKER_00`` again. After
all regions of a file are done, their speakers are linked by their centroid embeddings:
constrained agglomerative clustering over every (region, speaker), merging the two most similar
groups (cosine of their speech-duration-weighted mean embeddings) while that similarity is at least
``threshold``, never putting two speakers of one region in one group (the diarization of a region
already said they differ). File-level ids are numbered by first appearance: region order, then the
region's own speaker order. Pure and deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..outputs.diarization import DiarizationOutput, DiarizedSpeaker

DEFAULT_LINK_THRESHOLD = 0.8
"""For resemblyzer centroids (see docs/diarization.md for how it was chosen)."""


def speaker_label(index: int) -> str:
    return f"SPEAKER_{index:02d}"


def _speaker_order(speakers: Sequence[DiarizedSpeaker]) -> list[DiarizedSpeaker]:
    """A region's speakers in their own numbering order (``SPEAKER_02`` before ``SPEAKER_10``)."""
    return sorted(speakers, key=lambda s: (int(s.id.rsplit("_", 1)[1]), s.id))


def link_region_speakers(
    regions: Sequence[Sequence[DiarizedSpeaker]],
    threshold: float = DEFAULT_LINK_THRESHOLD,
) -> list[dict[str, str]]:
    """Per region, a mapping local speaker id → file-level speaker id.

    Injective within each region; speakers without an embedding (or with an empty one) are never
    linked and get ids of their own."""
    nodes: list[tuple[int, str]] = []  # (region index, local id), in first-appearance order
    vectors: list[np.ndarray | None] = []
    weights: list[float] = []
    for r, speakers in enumerate(regions):
        for spk in _speaker_order(speakers):
            nodes.append((r, spk.id))
            emb = np.asarray(spk.embedding, dtype=np.float64) if spk.embedding else None
            if emb is not None and (emb.ndim != 1 or not np.all(np.isfinite(emb)) or not np.any(emb)):
                emb = None
            vectors.append(emb / np.linalg.norm(emb) if emb is not None else None)
            weights.append(max(spk.speech_duration_s, 1e-3))

    # groups: member node indices, the set of regions they cover, and a weighted embedding sum
    members: list[list[int]] = [[i] for i in range(len(nodes))]
    covered: list[set[int]] = [{nodes[i][0]} for i in range(len(nodes))]
    sums: list[np.ndarray | None] = [v * w if v is not None else None for v, w in zip(vectors, weights, strict=True)]
    alive = [v is not None for v in vectors]

    def similarity(a: int, b: int) -> float:
        sa, sb = sums[a], sums[b]
        assert sa is not None and sb is not None
        return float(sa @ sb / (np.linalg.norm(sa) * np.linalg.norm(sb)))

    while True:
        best: tuple[float, int, int] | None = None
        for a in range(len(members)):
            if not alive[a]:
                continue
            for b in range(a + 1, len(members)):
                if not alive[b] or covered[a] & covered[b]:
                    continue
                s = similarity(a, b)
                # ties: the pair of earliest groups wins (deterministic)
                if s >= threshold and (best is None or s > best[0] + 1e-12):
                    best = (s, a, b)
        if best is None:
            break
        _, a, b = best
        members[a].extend(members[b])
        covered[a] |= covered[b]
        sums[a] = sums[a] + sums[b]
        alive[b] = False
        members[b] = []

    group_of = {}
    for g, mem in enumerate(members):
        for i in mem:
            group_of[i] = g
    file_ids: dict[int, str] = {}
    mappings: list[dict[str, str]] = [{} for _ in regions]
    for i, (r, local) in enumerate(nodes):
        g = group_of[i]
        if g not in file_ids:
            file_ids[g] = speaker_label(len(file_ids))
        mappings[r][local] = file_ids[g]
    return mappings


def relabel_output(output: DiarizationOutput, mapping: dict[str, str]) -> DiarizationOutput:
    """``output`` with its speaker ids replaced through ``mapping`` (ids it does not name are kept)."""
    data = output.model_dump()
    for turn in data["turns"]:
        turn["speaker"] = mapping.get(turn["speaker"], turn["speaker"])
    for spk in data["speakers"]:
        spk["id"] = mapping.get(spk["id"], spk["id"])
    data["speakers"].sort(key=lambda s: int(s["id"].rsplit("_", 1)[1]))
    return DiarizationOutput.model_validate(data)


def link_region_mappings(outputs: Sequence[DiarizationOutput | None], threshold: float | None = None
                         ) -> list[dict[str, str]]:
    """Per region of one file (in order; ``None`` for a region that failed), local → file-level
    speaker ids. ``threshold``: default the outputs' own ``link_threshold``, else
    :data:`DEFAULT_LINK_THRESHOLD`. This is what the runner's per-file pass calls (``link_regions``)."""
    if threshold is None:
        threshold = next((o.link_threshold for o in outputs if o is not None and o.link_threshold is not None),
                         DEFAULT_LINK_THRESHOLD)
    return link_region_speakers([o.speakers if o is not None else [] for o in outputs], threshold)


def link_region_outputs(outputs: Sequence[DiarizationOutput], threshold: float | None = None) -> list[DiarizationOutput]:
    """The regions' outputs of one file with file-level speaker ids (``threshold``: default the
    outputs' own ``link_threshold``, else :data:`DEFAULT_LINK_THRESHOLD`)."""
    mappings = link_region_mappings(outputs, threshold)
    return [relabel_output(o, m) for o, m in zip(outputs, mappings, strict=True)]
