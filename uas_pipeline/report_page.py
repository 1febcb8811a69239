"""The HTML report's page: markup, styles and script in one string (no external resources).

Placeholders filled by :func:`report._page`: ``__TITLE__``, ``__CHART_*__`` (inline SVG) and
``__DATA__`` (the JSON payload: totals, failures and the clip table's rows). Data is inserted into
the DOM with ``textContent`` only, never as markup.
"""

PAGE = r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>__TITLE__</title>
<style>
:root { --fg:#1d2327; --muted:#5f6b73; --line:#d9dee2; --accent:#1565c0; --bg:#f6f8fa; --na:#b0b7bd; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: var(--fg);
       margin: 0; background: #fff; }
header { padding: 16px 24px 8px; border-bottom: 1px solid var(--line); background: var(--bg); }
header h1 { font-size: 20px; margin: 0 0 4px; }
header .meta { color: var(--muted); font-size: 12px; }
main { padding: 8px 24px 40px; }
section { margin-top: 20px; }
h2 { font-size: 16px; margin: 0 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; margin-top: 12px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 8px 14px; min-width: 120px; background: #fff; }
.card b { display: block; font-size: 20px; }
.card span { color: var(--muted); font-size: 12px; }
.charts { display: flex; flex-wrap: wrap; gap: 8px 24px; }
figure.chart { margin: 0; }
figure.chart figcaption { font-weight: 600; font-size: 13px; margin: 6px 0 2px; }
figure.chart svg text { font-size: 11px; fill: var(--fg); }
figure.chart .bar { fill: var(--accent); }
figure.chart .bar.na { fill: var(--na); }
.note { color: var(--muted); font-size: 11px; margin: 0; max-width: 400px; }
.muted { color: var(--muted); }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 6px; text-align: left; vertical-align: top; }
th { background: var(--bg); position: sticky; top: 0; font-size: 12px; }
#clips th { cursor: pointer; user-select: none; white-space: nowrap; }
#clips th.sorted-asc::after { content: " ▲"; } #clips th.sorted-desc::after { content: " ▼"; }
#clips tbody tr { cursor: pointer; } #clips tbody tr:hover { background: #eef4fb; }
#clips td.num { text-align: right; font-variant-numeric: tabular-nums; }
#clips td.text { max-width: 0; width: 45%; color: #37474f; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
td.na { color: var(--na); font-style: italic; }
.filters { display: flex; flex-wrap: wrap; gap: 8px; align-items: end; margin: 8px 0; }
.filters label { font-size: 12px; color: var(--muted); display: flex; flex-direction: column; }
.filters input, .filters select { font: inherit; padding: 3px 5px; }
.pager { display: flex; gap: 8px; align-items: center; margin: 8px 0; }
.sample-note { background: #fff8e1; border: 1px solid #ffe082; padding: 6px 10px; border-radius: 4px; }
.failures td.msg { font-family: ui-monospace, monospace; font-size: 12px; white-space: pre-wrap; }
#detail { position: fixed; inset: 0; background: rgba(0,0,0,.45); display: none; z-index: 10; }
#detail.open { display: block; }
#detail .panel { position: absolute; inset: 3% 4%; background: #fff; border-radius: 8px; overflow: auto;
                 padding: 16px 20px; }
#detail h3 { margin: 0 0 8px; font-size: 16px; word-break: break-all; }
#detail img { max-width: 100%; border: 1px solid var(--line); }
#detail pre { background: var(--bg); padding: 10px; overflow: auto; font-size: 12px; max-height: 60vh; }
#detail .close { position: absolute; right: 16px; top: 10px; font-size: 14px; }
</style>
</head>
<body>
<header>
  <h1 id="title"></h1>
  <div class="meta" id="meta"></div>
  <div class="cards" id="cards"></div>
</header>
<main>
<section><h2>Languages and durations</h2><div class="charts">__CHART_OVERVIEW__</div></section>
<section><h2>Speakers</h2><div class="charts">__CHART_SPEAKERS__</div></section>
<section><h2>Recording</h2><div class="charts">__CHART_RECORDING__</div></section>
<section><h2>Non-linguistic events</h2><div class="charts">__CHART_EVENTS__</div></section>
<section id="failures-section"><h2>Failures</h2><div class="charts">__CHART_FAILURES__</div>
  <table class="failures"><thead><tr><th>stage · error type</th><th>clips</th><th>examples (clip, message)</th>
  </tr></thead><tbody id="failure-rows"></tbody></table></section>
<section><h2>Stages</h2><table><thead><tr><th>stage</th><th>status</th><th>clips</th></tr></thead>
  <tbody id="stage-rows"></tbody></table></section>
<section id="clips-section"><h2>Clips</h2>
  <p id="sample-note" class="sample-note" hidden></p>
  <div class="filters">
    <label>search id or text<input id="f-q" type="search" placeholder="e.g. coffee"></label>
    <label>language<select id="f-lang"><option value="">any</option></select></label>
    <label>gender<select id="f-gender"><option value="">any</option></select></label>
    <label>event<select id="f-event"><option value="">any</option></select></label>
    <label>min s<input id="f-min" type="number" min="0" step="0.5" style="width:6em"></label>
    <label>max s<input id="f-max" type="number" min="0" step="0.5" style="width:6em"></label>
    <label><span><input id="f-tl" type="checkbox"> with timeline</span></label>
  </div>
  <div class="pager"><button id="prev">◀ prev</button><span id="page-info"></span><button id="next">next ▶</button>
    <span id="match-info" class="muted"></span></div>
  <table id="clips"><thead><tr>
    <th data-col="clip_id">clip</th><th data-col="duration_s">s</th><th data-col="language">lang</th>
    <th data-col="speakers">spk</th><th data-col="genders">gender</th><th data-col="emotions">emotion</th>
    <th data-col="events">events</th><th data-col="speech_ratio">speech</th><th data-col="snr_db">SNR dB</th>
    <th data-col="timeline">timeline</th><th data-col="text">text</th></tr></thead>
    <tbody id="clip-rows"></tbody></table>
</section>
</main>
<div id="detail" role="dialog" aria-modal="true"><div class="panel">
  <button class="close" id="detail-close">close ✕</button>
  <h3 id="detail-title"></h3>
  <div id="detail-timeline"></div>
  <p><audio id="detail-audio" controls preload="none"></audio><br><span class="muted" id="detail-audio-note"></span></p>
  <h4>record</h4><pre id="detail-record">loading…</pre>
</div></div>
<script id="uas-data" type="application/json">__DATA__</script>
<script>
"use strict";
(function () {
  const DATA = JSON.parse(document.getElementById("uas-data").textContent);
  const COL = {}; DATA.columns.forEach((c, i) => { COL[c] = i; });
  const ROWS = DATA.rows;
  const PAGE_SIZE = 50;
  const NA = "not annotated";
  const $ = (id) => document.getElementById(id);
  const el = (tag, text, cls) => { const e = document.createElement(tag); if (text !== undefined && text !== null) e.textContent = text; if (cls) e.className = cls; return e; };
  const st = DATA.stats;

  document.title = "UAS report · " + DATA.title;
  $("title").textContent = "UAS dataset report · " + DATA.title;
  const m = DATA.manifest || {};
  $("meta").textContent = DATA.output_dir + " · generated " + DATA.generated_at +
    (m.recipe_hash ? " · recipe " + m.recipe_hash : "") + (m.pipeline_version ? " · pipeline " + m.pipeline_version : "");
  const cards = [
    [st.clips.toLocaleString(), "clips"], [(st.audio_s / 3600).toFixed(3), "hours of audio"],
    [DATA.failures.total.toLocaleString(), "failed clips (ledger)"],
    [st.language_clips.filter(([k]) => k !== NA).length, "languages"],
    [st.speakers.toLocaleString(), "speaker profiles"], [st.words.toLocaleString(), "words"],
    [st.events.toLocaleString(), "events"],
  ];
  for (const [v, label] of cards) { const c = el("div", null, "card"); c.append(el("b", String(v)), el("span", label)); $("cards").append(c); }

  for (const f of DATA.failures.by_type) {
    const tr = el("tr"); tr.append(el("td", f.type), el("td", String(f.count)));
    const td = el("td", null, "msg");
    td.textContent = f.examples.map((x) => x.clip_id + " — " + x.message).join("\n");
    tr.append(td); $("failure-rows").append(tr);
  }
  if (!DATA.failures.by_type.length) { const tr = el("tr"); const td = el("td", "no failed clips in the ledger", "muted"); td.colSpan = 3; tr.append(td); $("failure-rows").append(tr); }
  for (const [stage, statuses] of Object.entries(st.stage_status)) {
    for (const [status, n] of statuses) { const tr = el("tr"); tr.append(el("td", stage), el("td", status), el("td", String(n))); $("stage-rows").append(tr); }
  }

  if (DATA.sampled) {
    $("sample-note").hidden = false;
    $("sample-note").textContent = "The table holds a uniform sample of " + ROWS.length.toLocaleString() + " of " +
      DATA.total_clips.toLocaleString() + " clips (chosen by a hash of the clip id; the same sample on every run). " +
      "Totals and charts above cover every clip. Use `uas-pipeline report --max-rows N` for a larger table.";
  }

  const options = (sel, values) => { for (const v of values) { const o = el("option", v); o.value = v; $(sel).append(o); } };
  const splitSet = (i) => { const s = new Set(); for (const r of ROWS) { if (r[i]) r[i].split(", ").forEach((x) => s.add(x)); } return [...s].sort(); };
  options("f-lang", [...new Set(ROWS.map((r) => r[COL.language] || NA))].sort());
  options("f-gender", splitSet(COL.genders));
  options("f-event", splitSet(COL.events));

  const state = { col: "clip_id", dir: 1, page: 0, view: [] };
  const lower = ROWS.map((r) => ((r[COL.clip_id] || "") + "\u0000" + (r[COL.text] || "")).toLowerCase());

  function applyFilters() {
    const q = $("f-q").value.trim().toLowerCase();
    const lang = $("f-lang").value, gender = $("f-gender").value, ev = $("f-event").value;
    const min = parseFloat($("f-min").value), max = parseFloat($("f-max").value), tl = $("f-tl").checked;
    const out = [];
    for (let i = 0; i < ROWS.length; i++) {
      const r = ROWS[i];
      if (q && !lower[i].includes(q)) continue;
      if (lang && (r[COL.language] || NA) !== lang) continue;
      if (gender && !(r[COL.genders] || "").split(", ").includes(gender)) continue;
      if (ev && !(r[COL.events] || "").split(", ").includes(ev)) continue;
      if (!isNaN(min) && r[COL.duration_s] < min) continue;
      if (!isNaN(max) && r[COL.duration_s] > max) continue;
      if (tl && !r[COL.timeline]) continue;
      out.push(i);
    }
    const c = COL[state.col], dir = state.dir;
    out.sort((a, b) => {
      const x = ROWS[a][c], y = ROWS[b][c];
      if (x === y) return a - b;
      if (x === null || x === "") return 1;
      if (y === null || y === "") return -1;
      return (x < y ? -1 : 1) * dir;
    });
    state.view = out;
    state.page = Math.min(state.page, Math.max(0, Math.ceil(out.length / PAGE_SIZE) - 1));
    render();
  }

  function cell(value, cls) {
    if (value === null || value === undefined) return el("td", "–", "na");
    const td = el("td", String(value), cls);
    if (cls === "text") td.title = String(value);
    return td;
  }

  function render() {
    const body = $("clip-rows"); body.replaceChildren();
    const start = state.page * PAGE_SIZE;
    for (const i of state.view.slice(start, start + PAGE_SIZE)) {
      const r = ROWS[i]; const tr = el("tr"); tr.dataset.row = String(i);
      tr.append(cell(r[COL.clip_id]), cell(r[COL.duration_s], "num"), cell(r[COL.language]), cell(r[COL.speakers], "num"),
        cell(r[COL.genders]), cell(r[COL.emotions]), cell(r[COL.events]), cell(r[COL.speech_ratio], "num"),
        cell(r[COL.snr_db], "num"), el("td", r[COL.timeline] ? "✓" : ""), cell(r[COL.text], "text"));
      tr.addEventListener("click", () => openClip(i));
      body.append(tr);
    }
    const pages = Math.max(1, Math.ceil(state.view.length / PAGE_SIZE));
    $("page-info").textContent = "page " + (state.page + 1) + " of " + pages;
    $("match-info").textContent = state.view.length.toLocaleString() + " of " + ROWS.length.toLocaleString() + " clips match";
    $("prev").disabled = state.page === 0; $("next").disabled = state.page >= pages - 1;
    document.querySelectorAll("#clips th").forEach((th) => {
      th.classList.toggle("sorted-asc", th.dataset.col === state.col && state.dir === 1);
      th.classList.toggle("sorted-desc", th.dataset.col === state.col && state.dir === -1);
    });
  }

  // Records live in records/cNNNNN.js; a <script> tag loads them (fetch() cannot read file:// URLs).
  const chunks = {}; const waiting = {};
  window.uasRecordChunk = function (n, records) { chunks[n] = records; (waiting[n] || []).forEach((f) => f(records)); delete waiting[n]; };
  function withChunk(n, done) {
    if (chunks[n]) { done(chunks[n]); return; }
    if (waiting[n]) { waiting[n].push(done); return; }
    waiting[n] = [done];
    const s = document.createElement("script");
    s.src = "records/c" + String(n).padStart(5, "0") + ".js";
    s.onerror = () => { $("detail-record").textContent = "record file " + s.src + " could not be loaded"; };
    document.body.append(s);
  }

  function openClip(i) {
    const r = ROWS[i]; const id = r[COL.clip_id];
    $("detail-title").textContent = id;
    const tl = $("detail-timeline"); tl.replaceChildren();
    if (r[COL.timeline]) {
      const img = el("img"); img.alt = "timeline of " + id; img.src = "timelines/" + r[COL.timeline] + ".png"; tl.append(img);
    } else {
      tl.append(el("p", "No timeline picture was drawn for this clip (the report draws a sample). Draw it with: " +
        "uas-pipeline plot " + DATA.output_dir + " '" + id + "' -o clip.png", "muted"));
    }
    const audio = $("detail-audio");
    audio.pause();
    if (r[COL.audio]) { audio.src = r[COL.audio]; $("detail-audio-note").textContent = "source: " + decodeURI(r[COL.audio]); }
    else { audio.removeAttribute("src"); $("detail-audio-note").textContent = "no source path"; }
    $("detail-record").textContent = "loading…";
    withChunk(r[COL.chunk], (recs) => {
      if ($("detail-title").textContent !== id) return;
      const rec = recs[id];
      $("detail-record").textContent = rec ? JSON.stringify(rec, null, 2) : "record not found in its chunk";
    });
    $("detail").classList.add("open");
    history.replaceState(null, "", "#clip=" + encodeURIComponent(id));
  }
  function closeClip() { $("detail").classList.remove("open"); $("detail-audio").pause(); history.replaceState(null, "", "#"); }
  $("detail-close").addEventListener("click", closeClip);
  $("detail").addEventListener("click", (e) => { if (e.target === $("detail")) closeClip(); });
  document.addEventListener("keydown", (e) => { if (e.key === "Escape") closeClip(); });

  document.querySelectorAll("#clips th").forEach((th) => th.addEventListener("click", () => {
    if (state.col === th.dataset.col) state.dir = -state.dir; else { state.col = th.dataset.col; state.dir = 1; }
    applyFilters();
  }));
  for (const id of ["f-q", "f-min", "f-max"]) $(id).addEventListener("input", () => { state.page = 0; applyFilters(); });
  for (const id of ["f-lang", "f-gender", "f-event", "f-tl"]) $(id).addEventListener("change", () => { state.page = 0; applyFilters(); });
  $("prev").addEventListener("click", () => { state.page = Math.max(0, state.page - 1); render(); });
  $("next").addEventListener("click", () => { state.page += 1; render(); });

  applyFilters();
  const wanted = decodeURIComponent((location.hash.match(/^#clip=(.*)$/) || [])[1] || "");
  if (wanted) { const i = ROWS.findIndex((r) => r[COL.clip_id] === wanted); if (i >= 0) openClip(i); }
  document.body.dataset.ready = "1";
})();
</script>
</body>
</html>
"""
