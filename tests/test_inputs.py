"""Listing inputs: directories, single files, JSONL manifests, the bundled demo, and input errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from uas_pipeline.clips import ClipRef
from uas_pipeline.inputs import BUNDLED_DEMO, InputError, list_clips, resolve_input

from .conftest import DEMO_DIR

EXTS = ["wav", ".FLAC", "mp3"]


def _touch(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")


def _ids(path: Path | str, extensions: list[str] = EXTS) -> list[str]:
    return [r.id for r in list_clips(str(path), extensions)]


# --- directories and single files ------------------------------------------------------------------


def test_directory_listing(tmp_path: Path) -> None:
    _touch(
        tmp_path,
        "b.wav",
        "a.WAV",  # extension match is case-insensitive, both ways ('.FLAC' in the list)
        "c.flac",
        "notes.txt",
        "README",
        ".hidden.wav",
        ".cache/inside.wav",
        "sub/z.mp3",
        "sub/deeper/y.Mp3",
        "sub/x.ogg",
        "a_dir/m.wav",
    )
    refs = list(list_clips(str(tmp_path), EXTS))
    assert [r.id for r in refs] == ["a.WAV", "b.wav", "c.flac", "a_dir/m.wav", "sub/z.mp3", "sub/deeper/y.Mp3"]
    for ref in refs:
        assert ref.source == str((tmp_path / ref.id).resolve())
        assert Path(ref.source).is_absolute()
        assert (ref.offset_s, ref.duration_s, ref.region) == (0.0, None, False)


def test_directory_listing_is_stable(tmp_path: Path) -> None:
    names = [f"d{i % 3}/f{i:02d}.wav" for i in range(12)]
    _touch(tmp_path, *reversed(names))
    assert _ids(tmp_path) == sorted(names)
    assert _ids(tmp_path) == _ids(tmp_path)


def test_directory_path_given_relative(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _touch(tmp_path, "in/a.wav")
    monkeypatch.chdir(tmp_path)
    (ref,) = list_clips("in", ["wav"])
    assert ref == ClipRef(id="a.wav", source=str((tmp_path / "in" / "a.wav").resolve()))


def test_empty_directory_lists_nothing(tmp_path: Path) -> None:
    _touch(tmp_path, "only.txt")
    assert _ids(tmp_path) == []


def test_file_without_extension_is_not_listed(tmp_path: Path) -> None:
    _touch(tmp_path, "wav", "a.wav")
    assert _ids(tmp_path) == ["a.wav"]


def test_single_file(tmp_path: Path) -> None:
    _touch(tmp_path, "dir/clip.ogg")
    # a single file is taken as given: no extension filter
    (ref,) = list_clips(str(tmp_path / "dir" / "clip.ogg"), ["wav"])
    assert ref == ClipRef(id="clip.ogg", source=str((tmp_path / "dir" / "clip.ogg").resolve()))


def test_missing_input(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="input not found"):
        list(list_clips(str(tmp_path / "nope"), EXTS))


# --- manifests -------------------------------------------------------------------------------------


def test_manifest_hints_and_path_alias(tmp_path: Path) -> None:
    path = _manifest(
        tmp_path,
        {"path": "a.wav", "num_speakers": 2, "reference": {"num_speakers": 5}},
        {"audio": "b.wav", "hints": {"min_speakers": 1, "max_speakers": 4}, "language": "de"},
    )
    a, b = list_clips(str(path), ["wav"])
    assert a.source == str((tmp_path / "a.wav").resolve())
    assert a.hints == {"num_speakers": 2}  # reference labels are never hints
    assert b.hints == {"language": "de", "min_speakers": 1, "max_speakers": 4}


@pytest.mark.parametrize("line", [{"audio": "a.wav", "num_speakers": 0}, {"audio": "a.wav", "hints": [1]},
                                  {"audio": "a.wav", "max_speakers": "3"}, {"audio": "a.wav", "language": 5}])
def test_manifest_bad_hints(tmp_path: Path, line: dict) -> None:
    with pytest.raises(InputError, match="m.jsonl:1"):
        list(list_clips(str(_manifest(tmp_path, line)), ["wav"]))


def _manifest(tmp_path: Path, *lines: str | dict, name: str = "m.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join((ln if isinstance(ln, str) else json.dumps(ln)) + "\n" for ln in lines))
    return path


def test_manifest(tmp_path: Path) -> None:
    base = tmp_path / "m"
    base.mkdir()
    elsewhere = tmp_path / "other" / "abs.flac"
    path = _manifest(
        base,
        {"id": "one", "audio": "audio/one.wav", "text": "reference", "language": "en"},
        "",
        "   ",
        {"audio": "audio/two.wav"},
        {"audio": str(elsewhere), "offset_s": 12.5, "duration_s": 3},
        {"audio": "audio/two.wav", "offset_s": 1},
        {"id": "win", "audio": "../x.wav", "offset_s": 0, "duration_s": 2.5},
        {"id": "explicit", "audio": "audio/two.wav", "offset_s": 7},
    )
    refs = list(list_clips(str(path), ["ogg"]))  # extensions do not filter manifest entries
    two = str((base / "audio" / "two.wav").resolve())
    assert refs == [
        ClipRef(id="one", source=str((base / "audio" / "one.wav").resolve()), hints={"language": "en"}),
        ClipRef(id="audio/two.wav", source=two),
        ClipRef(id=f"{elsewhere.as_posix()}@12.500", source=str(elsewhere.resolve()), offset_s=12.5,
                duration_s=3.0, region=True),
        ClipRef(id="audio/two.wav@1.000", source=two, offset_s=1.0, region=True),
        ClipRef(id="win", source=str((tmp_path / "x.wav").resolve()), offset_s=0.0, duration_s=2.5, region=True),
        ClipRef(id="explicit", source=two, offset_s=7.0, region=True),
    ]
    assert all(isinstance(r.offset_s, float) for r in refs)
    assert isinstance(refs[2].duration_s, float)


def test_manifest_relative_to_its_folder_not_the_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "data").mkdir()
    _manifest(tmp_path / "data", {"audio": "a.wav"})
    monkeypatch.chdir(tmp_path)
    (ref,) = list_clips(os.path.join("data", "m.jsonl"), EXTS)
    assert ref.source == str((tmp_path / "data" / "a.wav").resolve())
    assert ref.id == "a.wav"


def test_manifest_does_not_check_audio_exists(tmp_path: Path) -> None:
    # a missing audio file is the decoder's business (it becomes a ledger row, not a listing error)
    (ref,) = list_clips(str(_manifest(tmp_path, {"audio": "ghost.wav"})), EXTS)
    assert not Path(ref.source).exists()


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ("{not json", "not valid JSON"),
        ('["a.wav"]', 'needs an "audio" path'),
        ('{"id": "x"}', 'needs an "audio" path'),
        ('{"audio": 5}', 'needs an "audio" path'),
        ('{"audio": "a.wav", "offset_s": -1}', "'offset_s' must be a non-negative number"),
        ('{"audio": "a.wav", "offset_s": "3"}', "'offset_s' must be a non-negative number"),
        ('{"audio": "a.wav", "offset_s": true}', "'offset_s' must be a non-negative number"),
        ('{"audio": "a.wav", "duration_s": 0}', "'duration_s' must be > 0"),
        ('{"audio": "a.wav", "duration_s": -2.5}', "'duration_s' must be a non-negative number"),
        ('{"audio": "a.wav", "id": ""}', '"id" must be a non-empty string'),
        ('{"audio": "a.wav", "id": 7}', '"id" must be a non-empty string'),
    ],
)
def test_manifest_errors_name_the_line(tmp_path: Path, bad_line: str, message: str) -> None:
    path = _manifest(tmp_path, {"audio": "ok.wav"}, "", bad_line, {"audio": "never.wav"})
    refs = list_clips(str(path), EXTS)
    assert next(refs).id == "ok.wav"  # lazily listed: earlier lines come out before the error
    with pytest.raises(InputError) as ei:
        next(refs)
    assert f"{path}:3:" in str(ei.value)
    assert message in str(ei.value)


def test_duplicate_ids(tmp_path: Path) -> None:
    path = _manifest(tmp_path, {"id": "a", "audio": "1.wav"}, {"id": "b", "audio": "2.wav"}, {"id": "a", "audio": "3.wav"})
    with pytest.raises(InputError, match="duplicate clip id 'a'"):
        list(list_clips(str(path), EXTS))
    # derived ids collide too (same file, no offset)
    path = _manifest(tmp_path, {"audio": "1.wav"}, {"audio": "1.wav", "offset_s": 0}, name="d.jsonl")
    with pytest.raises(InputError, match="duplicate clip id '1.wav'"):
        list(list_clips(str(path), EXTS))


def test_manifest_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b'{"audio": "a.wav"}\n{"audio": "\xff\xfe.wav"}\n')
    with pytest.raises(InputError):
        list(list_clips(str(path), EXTS))


@pytest.mark.parametrize("line", ['{"audio": "a.wav", "offset_s": NaN}', '{"audio": "a.wav", "duration_s": Infinity}'])
def test_manifest_non_finite_numbers(tmp_path: Path, line: str) -> None:
    with pytest.raises(InputError, match=":1:"):
        list(list_clips(str(_manifest(tmp_path, line)), EXTS))


# --- bundled demo ----------------------------------------------------------------------------------


def test_bundled_demo() -> None:
    assert resolve_input(BUNDLED_DEMO) == DEMO_DIR / "demo.jsonl"
    refs = list(list_clips(BUNDLED_DEMO, []))
    assert len(refs) == 8
    expected = [json.loads(line)["id"] for line in (DEMO_DIR / "demo.jsonl").read_text().splitlines()]
    assert [r.id for r in refs] == expected
    for ref in refs:
        assert Path(ref.source).is_file()
        assert Path(ref.source).parent == DEMO_DIR.resolve()
        assert not ref.region


def test_resolve_input_expands_user(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert resolve_input("~/in") == tmp_path / "in"
