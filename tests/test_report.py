"""The static HTML report: totals, sampling, no network, and (in headless chromium) the page itself."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from uas_pipeline.cli import main as cli_main
from uas_pipeline.report import ReportOptions, build_report, clip_hash

from .browser import chromium
from .fixtures_records import minimal_record_dict
from .output_fixtures import mixed_output, write_output, write_source_audio

DATA_RE = re.compile(r'<script id="uas-data" type="application/json">(.*?)</script>', re.S)


def page_data(index: Path) -> dict:
    return json.loads(DATA_RE.search(index.read_text(encoding="utf-8")).group(1))


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("report")
    out = mixed_output(base / "out", write_source_audio(base / "source.flac"))
    summary = build_report(out, base / "report", ReportOptions(timelines=2, contour=False))
    assert summary.timelines == 2 and summary.table_rows == 5 and not summary.sampled
    return base / "report"


@pytest.mark.slow
def test_report_totals_failures_and_files(report):
    index = report / "index.html"
    page = index.read_text(encoding="utf-8")
    data = page_data(index)
    stats = data["stats"]
    assert stats["clips"] == 5 and data["total_clips"] == 5 and len(data["rows"]) == 5
    assert stats["audio_s"] == pytest.approx(4 * 12.5 + 1.0)
    assert dict(stats["language_clips"]) == {"de": 4, "not annotated": 1}
    assert dict(stats["speaker_attributes"]["gender"]) == {"female": 3, "male": 5, "no speaker profiles": 1}
    assert dict(stats["speaker_attributes"]["pitch level"]) == {"high": 2, "medium": 5, "low": 1,
                                                               "no speaker profiles": 1}
    assert dict(stats["event_clips"]) == {"dog": 3, "laughter": 3, "music": 3, "not annotated": 1}
    assert dict(data["failures"]["by_stage"]) == {"decode": 2, "asr": 1}
    truncated = next(f for f in data["failures"]["by_type"] if f["type"] == "decode · truncated")
    assert truncated["examples"][0]["clip_id"] == "broken-1.wav"
    # self-contained: no network reference, and ledger text cannot inject markup
    assert "http://" not in page and "https://" not in page
    assert "<script>alert(1)" not in page
    timelines = sorted(p.stem for p in (report / "timelines").glob("*.png"))
    assert len(timelines) == 2 and sorted(r[10] for r in data["rows"] if r[10]) == timelines
    chunk = (report / "records" / "c00000.js").read_text(encoding="utf-8")
    for row in data["rows"]:
        assert json.dumps(row[0]) in chunk


def test_table_is_a_stable_uniform_sample_when_large(tmp_path):
    docs = []
    for i in range(300):
        doc = minimal_record_dict()
        doc["clip"]["id"] = f"clip-{i:03d}"
        docs.append(doc)
    out = write_output(tmp_path / "out", docs, rows_per_shard=64)
    options = ReportOptions(max_rows=50, timelines=0)
    first = build_report(out, tmp_path / "r1", options)
    build_report(out, tmp_path / "r2", options)
    assert (first.clips, first.table_rows, first.sampled, first.timelines) == (300, 50, True, 0)
    ids = [r[0] for r in page_data(tmp_path / "r1" / "index.html")["rows"]]
    assert ids == [r[0] for r in page_data(tmp_path / "r2" / "index.html")["rows"]]
    assert set(ids) == set(sorted((d["clip"]["id"] for d in docs), key=clip_hash)[:50])
    assert page_data(tmp_path / "r1" / "index.html")["stats"]["clips"] == 300  # charts cover every clip
    assert len(list((tmp_path / "r1" / "records").glob("*.js"))) == 1


def test_report_command(tmp_path):
    doc = minimal_record_dict()
    out = write_output(tmp_path / "out", [doc])
    assert cli_main(["report", str(out), "--output", str(tmp_path / "rep"), "--timelines", "0", "--quiet"]) == 0
    assert (tmp_path / "rep" / "index.html").is_file()
    assert cli_main(["report", str(tmp_path / "none"), "--output", str(tmp_path / "rep2")]) == 2


def _wait(driver, condition, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = driver.execute_script(condition)
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for: {condition}")


def _severe(driver) -> list[dict]:
    return [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]


def _visible_ids(driver) -> list[str]:
    return driver.execute_script(
        "return [...document.querySelectorAll('#clip-rows tr')].map(r => r.cells[0].textContent)")


@pytest.mark.slow
def test_report_in_headless_chromium(report):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    with chromium() as driver:
        driver.get((report / "index.html").as_uri())
        _wait(driver, "return document.body.dataset.ready === '1'")
        assert _severe(driver) == []
        assert len(_visible_ids(driver)) == 5

        search = driver.find_element(By.ID, "f-q")
        search.send_keys("clip-min")
        assert _visible_ids(driver) == ["clip-min"]
        search.clear()
        driver.execute_script("document.getElementById('f-q').dispatchEvent(new Event('input'))")
        Select(driver.find_element(By.ID, "f-event")).select_by_value("dog")
        assert sorted(_visible_ids(driver)) == ["legacy-1.0", "rich-001", "rich-002"]
        Select(driver.find_element(By.ID, "f-gender")).select_by_value("female")
        assert sorted(_visible_ids(driver)) == ["legacy-1.0", "rich-001"]
        Select(driver.find_element(By.ID, "f-event")).select_by_value("")
        Select(driver.find_element(By.ID, "f-gender")).select_by_value("")
        driver.find_element(By.CSS_SELECTOR, "th[data-col='duration_s']").click()
        driver.find_element(By.CSS_SELECTOR, "th[data-col='duration_s']").click()  # descending
        assert _visible_ids(driver)[-1] == "clip-min"  # 1 s, the shortest

        driver.find_element(By.ID, "f-tl").click()
        with_timeline = _visible_ids(driver)
        assert len(with_timeline) == 2
        driver.find_element(By.CSS_SELECTOR, "#clip-rows tr").click()
        _wait(driver, "return document.getElementById('detail').classList.contains('open')")
        _wait(driver, "const i = document.querySelector('#detail-timeline img');"
                      "return i && i.complete && i.naturalWidth > 0")
        audio_src = driver.execute_script("return document.getElementById('detail-audio').src")
        assert audio_src.startswith("file:///") and "source.flac" in audio_src
        record = _wait(driver, "const t = document.getElementById('detail-record').textContent;"
                               "return t.startsWith('{') && t")
        assert json.loads(record)["clip"]["id"] == with_timeline[0]
        assert _severe(driver) == []


@pytest.mark.slow
def test_rewriting_a_report_reuses_unchanged_timelines(tmp_path):
    docs = []
    for i in range(2):
        doc = minimal_record_dict()
        doc["clip"]["id"] = f"clip-{i}"
        docs.append(doc)
    out = write_output(tmp_path / "out", docs)
    options = ReportOptions(timelines=2, contour=False)
    build_report(out, tmp_path / "rep", options)
    first = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "rep" / "timelines").glob("*.png")}
    assert len(first) == 2
    build_report(out, tmp_path / "rep", options)
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "rep" / "timelines").glob("*.png")} == first
    docs[0]["clip"]["duration_s"] = 2.0  # a changed record gets a new picture; the stale one goes
    for shard in out.glob("*.parquet"):
        shard.unlink()
    write_output(out, docs)
    build_report(out, tmp_path / "rep", options)
    now = {p.name for p in (tmp_path / "rep" / "timelines").glob("*.png")}
    assert len(now) == 2 and len(now & set(first)) == 1
