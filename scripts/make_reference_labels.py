"""Regenerate ``uas_pipeline/events/data/reference_labels.csv`` (what evaluation accepts as finding a
reference class) from the hand-written table ``schemas/reference_classes.csv`` and the event vocabulary.

Rule: each reference class (ESC-50, UrbanSound8K, generic, instrument/genre words of music clips) names
the AudioSet classes that *are* that sound (``Jackhammer``; ``Thunderstorm|Rain`` for a thunderstorm;
``Creak|Door`` for a creaking door); it accepts exactly the vocabulary labels of those classes, which
the vocabulary took from the ontology (nearest anchor), in the order named: the first is the main
label. No label is added by hand or for being near in the ontology (``jackhammer`` does not accept
``power_tool``: AudioSet files Jackhammer under Tools, beside Power tool). ``label:<label>`` names a
vocabulary label directly, only for classes AudioSet lacks (can opening, washing machine); an empty
cell means no event is expected (speech, silence).

    python scripts/make_reference_labels.py
"""

from __future__ import annotations

import csv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TABLE = ROOT / "schemas" / "reference_classes.csv"
VOCABULARY = ROOT / "schemas" / "event_vocabulary.csv"
OUTPUT = ROOT / "uas_pipeline" / "events" / "data" / "reference_labels.csv"
COLUMNS = ["dataset", "class", "labels", "note"]


def accepted_labels(names: list[str], label_of_class: dict[str, str]) -> list[str]:
    """Vocabulary labels of the AudioSet classes ``names`` (display names) or ``label:<label>``
    entries, first occurrence kept. Raises on a class the vocabulary does not map."""
    out: list[str] = []
    for name in names:
        if name.startswith("label:"):
            label = name.removeprefix("label:")
        elif name in label_of_class:
            label = label_of_class[name]
        else:
            raise ValueError(f"AudioSet class {name!r} has no vocabulary label (or is not an AudioSet class)")
        if label not in out:
            out.append(label)
    return out


def build(table: list[dict[str, str]], vocabulary: list[dict[str, str]]) -> list[list[str]]:
    labels = {r["label"] for r in vocabulary}
    label_of_class = {r["class_name"]: r["label"] for r in vocabulary if r["source"] == "audioset"}
    rows = []
    for r in table:
        accepted = accepted_labels([n for n in r["audioset"].split("|") if n], label_of_class)
        unknown = [lab for lab in accepted if lab not in labels]
        if unknown:
            raise ValueError(f"{r['class']}: {unknown} are not vocabulary labels")
        rows.append([r["dataset"], r["class"], "|".join(accepted), r["note"]])
    return rows


def render(rows: list[list[str]]) -> str:
    import io

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    w.writerows(rows)
    return buf.getvalue()


def main() -> None:
    with TABLE.open(newline="") as f:
        table = list(csv.DictReader(f))
    with VOCABULARY.open(newline="") as f:
        vocabulary = list(csv.DictReader(f))
    OUTPUT.write_text(render(build(table, vocabulary)))
    print(f"{len(table)} reference classes written to {OUTPUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
