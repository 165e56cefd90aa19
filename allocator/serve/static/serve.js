// allocator serve: the page. Plain JavaScript over the JSON API of allocator/serve/app.py.
"use strict";

const $ = (id) => document.getElementById(id);
let S = null;              // the last state from the server
let accounts = null;       // {account_id: [...], region_id: [...]}
let selected = new Set();  // account ids selected on the map or by id
let polling = null;
let lastReps = {};

function esc(v) {
  return String(v ?? "").replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
}
function num(v, digits = 0) {
  if (v === null || v === undefined || Number.isNaN(v)) return "-";
  return Number(v).toLocaleString("en-US", {minimumFractionDigits: digits, maximumFractionDigits: digits});
}
function pct(v) { return v === null || v === undefined ? "-" : (100 * v).toFixed(1) + "%"; }
const SHARES = new Set(["potential_moved_share", "max_utilization"]);
function metric(key, v) {
  if (SHARES.has(key)) return pct(v);
  return Number.isInteger(v) ? num(v) : num(v, 1);
}

function say(text, error = false) {
  const m = $("message");
  m.textContent = text;
  m.className = error ? "error" : "";
  m.hidden = !text;
}

async function api(path, body) {
  const opts = body === undefined ? {} : {method: "POST", headers: {"content-type": "application/json"}, body: JSON.stringify(body)};
  let r, data;
  try {
    r = await fetch(path, opts);
  } catch (e) {
    say("the server does not answer (was it stopped?)", true);
    throw e;
  }
  try { data = await r.json(); } catch (e) { data = {error: `the server answered ${r.status} without a message`}; }
  if (!r.ok) {
    say(data.error || `request failed (${r.status})`, true);
    if (data.state) { render(data.state); await drawMap(); }
    const err = new Error(data.error);
    err.handled = true;
    throw err;
  }
  return data;
}

// ------------------------------------------------------------------ rendering

function render(state) {
  S = state;
  $("plan-label").textContent = state.label;
  $("version").textContent = state.version;
  $("undo").disabled = !state.can_undo;
  $("redo").disabled = !state.can_redo;
  $("warnings").innerHTML = state.warnings.map((w) => `<div>warning: ${esc(w)}</div>`).join("");
  renderHeadline(state);
  renderReps(state);
  renderViolations(state);
  renderFairness(state);
  $("terms").innerHTML = "<tr><th>term</th><th>value</th></tr>" +
    Object.entries(state.terms).map(([k, v]) => `<tr><td>${esc(k)}</td><td>${num(v, 1)}</td></tr>`).join("") +
    `<tr><td><b>objective</b></td><td><b>${num(state.headline.objective, 1)}</b></td></tr>`;
  renderJob(state.job);
}

function renderHeadline(state) {
  const h = state.headline, b = state.base_headline;
  const rows = [
    ["objective", "objective", 1], ["accounts moved (vs incumbents)", "accounts_moved", 0],
    ["potential moved", "potential_moved_share", "pct"], ["max utilisation", "max_utilization", "pct"],
    ["reps over capacity", "reps_over_capacity", 0], ["travel km", "travel_km", 0],
    ["hard-rule violations", "violations", 0],
  ];
  let html = "<tr><th></th><th>now</th><th>opened</th></tr>";
  for (const [label, key, d] of rows) {
    const f = (v) => (d === "pct" ? pct(v) : num(v, d));
    html += `<tr data-key="${key}"><td>${label}</td><td class="now">${f(h[key])}</td><td>${f(b[key])}</td></tr>`;
  }
  html += `<tr><td>edited accounts</td><td id="edited">${state.edited}</td><td></td></tr>`;
  html += `<tr><td>locked accounts</td><td id="locked-count">${state.locked.length}</td><td></td></tr>`;
  $("headline").innerHTML = html;
}

function renderReps(state) {
  const colour = {};
  for (const r of (accounts ? accounts.reps : [])) colour[r.rep_id] = r.colour;
  let html = "<tr><th>rep</th><th>accts</th><th>potential</th><th title='potential over the fair share'>fair</th>" +
    "<th title='workload hours'>hours</th><th title='workload + travel over capacity'>util.</th>" +
    "<th>quota</th><th>travel km</th><th>rules broken</th></tr>";
  const now = {};
  // reps that break a rule first, then the table order
  const reps = [...state.reps].sort((a, b) => (b.violations.length > 0) - (a.violations.length > 0));
  for (const r of reps) {
    now[r.rep_id] = r.accounts;
    const changed = lastReps[r.rep_id] !== undefined && lastReps[r.rep_id] !== r.accounts;
    const cls = [r.violations.length ? "violated" : "", changed ? "changed" : ""].join(" ");
    html += `<tr data-rep="${esc(r.rep_id)}" class="${cls}">` +
      `<td class="name" title="${esc(r.name)}"><span class="swatch" style="background:${colour[r.rep_id] || "#999"}"></span>${esc(r.rep_id)}</td>` +
      `<td class="accounts">${r.accounts}</td><td class="potential">${num(r.potential)}</td>` +
      `<td class="fair">${pct(r.fair_ratio)}</td><td class="workload">${num(r.workload)}</td>` +
      `<td class="utilization">${pct(r.utilization)}</td><td class="quota">${num(r.quota)}</td>` +
      `<td class="travel">${num(r.travel_km)}</td>` +
      `<td class="flags">${r.violations.map((k) => `<span class="badge">${esc(k)}</span>`).join("")}</td></tr>`;
  }
  $("reps").innerHTML = html;
  lastReps = now;
}

function renderViolations(state) {
  $("violation-count").textContent = `(${state.violations.length})`;
  $("violations").innerHTML = state.violations.length
    ? state.violations.slice(0, 200).map((v) => `<li class="${esc(v.kind)}" data-rep="${esc(v.rep)}" data-account="${esc(v.account)}">${esc(v.kind)}: ${esc(v.text)}</li>`).join("")
    : "<li style='color:#070;list-style:none'>none: every hard rule holds</li>";
}

function renderFairness(state) {
  let html = "<tr><th>measure</th><th>gini</th><th>min / fair</th><th>max / fair</th><th>in band</th></tr>";
  for (const [k, f] of Object.entries(state.fairness)) {
    html += `<tr><td>${esc(k)}</td><td>${num(f.gini, 3)}</td><td>${num(f.min_rel, 2)}</td><td>${num(f.max_rel, 2)}</td><td>${pct(f.in_band)}</td></tr>`;
  }
  $("fairness").innerHTML = html;
}

function accountTrace(gd) { return gd.data.findIndex((t) => t.meta === "accounts"); }
function metaOf(gd, p) { return gd.data[p.curveNumber] ? gd.data[p.curveNumber].meta : undefined; }

function renderSelection() {
  $("selected-count").textContent = selected.size;
  const ids = [...selected];
  $("selected-list").textContent = ids.slice(0, 8).join(", ") + (ids.length > 8 ? ", ..." : "");
  const gd = $("map");
  if (gd.data && gd.data.length) {
    const index = new Map(gd.data[accountTrace(gd)].customdata.map((c, i) => [c[0], i]));
    const points = ids.map((a) => index.get(a)).filter((i) => i !== undefined);
    Plotly.restyle(gd, {selectedpoints: [points.length ? points : null]}, [accountTrace(gd)]);
  }
}

async function drawMap() {
  const fig = await api("/api/map");
  await Plotly.react("map", fig.data, fig.layout, {responsive: true, displaylogo: false, scrollZoom: true});
  renderSelection();
}

function renderJob(job) {
  const box = $("job");
  if (!job) { box.hidden = true; return; }
  box.hidden = false;
  $("job-status").textContent = job.state === "running"
    ? `running: ${job.elapsed.toFixed(1)} s (time limit ${job.time_limit} s); the page stays usable`
    : job.state === "done" ? `done in ${job.elapsed.toFixed(1)} s: ${job.diff.moved} account(s) would change owner`
    : `failed: ${job.error}`;
  $("job-status").className = job.state;
  $("job-lines").textContent = job.lines.join("\n");
  const done = job.state === "done";
  $("job-accept").hidden = !done;
  $("job-discard").hidden = job.state === "running";
  if (done) {
    const d = job.diff;
    let html = "<table class='diff-metrics'><tr><th>metric</th><th>now</th><th>re-optimised</th></tr>" +
      d.metrics.filter((m) => m.metric !== "accounts" && m.metric !== "reps")
        .map((m) => `<tr><td>${esc(m.metric.replaceAll("_", " "))}</td><td>${metric(m.metric, m.before)}</td><td>${metric(m.metric, m.after)}</td></tr>`).join("") + "</table>";
    html += `<h2>What moves (${d.moved})</h2><table class='diff-moves'><tr><th>account</th><th>from</th><th>to</th><th>potential</th></tr>` +
      d.moves.map((m) => `<tr><td>${esc(m.account_id)}</td><td>${esc(m.from_rep)}</td><td>${esc(m.to_rep)}</td><td>${num(m.potential)}</td></tr>`).join("") + "</table>";
    $("job-diff").innerHTML = html;
  } else {
    $("job-diff").innerHTML = "";
  }
}

// ------------------------------------------------------------------ actions

function note() { return {who: $("who").value, why: $("why").value}; }

async function act(path, body, message, clear = false) {
  say("");  // an earlier message (e.g. a selection warning) must not pass for this answer
  try {
    const state = await api(path, {version: S.version, ...body});
    if (clear) selected = new Set();
    render(state);
    say(message);
    await drawMap();
  } catch (e) { if (!e.handled) say(String(e), true); }
}

function edit(action) {
  const ids = [...selected];
  const rep = $("rep").value;
  const what = action === "move" ? `gave ${ids.length} account(s) to ${rep}` : `${action}ed ${ids.length} account(s)`;
  return act("/api/edit", {action, accounts: ids, rep, ...note()}, what, action === "move");
}

async function pollJob() {
  clearTimeout(polling);
  const job = await api("/api/job");
  renderJob(job.state === "none" ? null : job);
  if (job.state === "running") polling = setTimeout(pollJob, 400);
}

function wire() {
  $("undo").onclick = () => act("/api/undo", {}, "undone");
  $("redo").onclick = () => act("/api/redo", {}, "redone");
  $("move").onclick = () => edit("move");
  $("lock").onclick = () => edit("lock");
  $("unlock").onclick = () => edit("unlock");
  $("select").onclick = () => {
    const ids = $("select-ids").value.split(/[\s,;]+/).filter(Boolean);
    const known = new Set(accounts.account_id);
    const unknown = ids.filter((a) => !known.has(a));
    // unknown ids are kept: the server names them when an edit uses them
    selected = new Set(ids);
    renderSelection();
    say(unknown.length ? `not in this plan: ${unknown.join(", ")}` : `${ids.length} selected`, unknown.length > 0);
  };
  $("clear").onclick = () => { selected = new Set(); renderSelection(); };
  $("region").onchange = () => { if ($("region").value) selectRegion($("region").value); };
  $("reoptimise").onclick = async () => {
    try {
      await api("/api/reoptimise", {version: S.version});
      say("re-optimising in the background with the edited accounts locked");
      pollJob();
    } catch (e) { if (!e.handled) say(String(e), true); }
  };
  $("job-accept").onclick = () => act("/api/job/accept", {}, "re-optimised plan accepted (undo takes it back)");
  $("job-discard").onclick = () => act("/api/job/discard", {}, "re-optimised plan discarded");
  $("save").onclick = async () => {
    if (S.violations.length && !window.confirm(`The plan breaks ${S.violations.length} hard rule(s). Save it anyway?`)) return;
    try {
      $("save").disabled = true;
      say("saving: allocating quotas again for the edited territory...");
      const out = await api("/api/save", {version: S.version, folder: $("save-folder").value});
      render(out.state);
      say(`saved to ${out.folder} (${out.files.length} files, ${out.overrides} override(s))`);
      $("message").dataset.saved = out.folder;
    } catch (e) { if (!e.handled) say(String(e), true); } finally { $("save").disabled = false; }
  };
  $("compare").onclick = compareWith;
}

function selectRegion(g) {
  selected = new Set(accounts.account_id.filter((a, i) => accounts.region_id[i] === g));
  renderSelection();
  say(`region ${g}: ${selected.size} account(s) selected`);
}

async function compareWith() {
  try {
    say("opening the other plan...");
    const c = await api("/api/compare", {other: $("compare-path").value});
    const [a, b] = c.names;
    let html = `<div class="side-by-side"><div id="map-this"></div><div id="map-other"></div></div>`;
    html += `<h2>Metrics that differ: ${esc(a)} vs ${esc(b)}</h2><table>` +
      "<tr>" + Object.keys(c.metrics[0] || {metric: 1}).map((k) => `<th>${esc(k)}</th>`).join("") + "</tr>" +
      c.metrics.map((m) => "<tr>" + Object.values(m).map((v) => `<td>${esc(v)}</td>`).join("") + "</tr>").join("") + "</table>";
    html += `<h2>Accounts whose owner differs: ${c.owners_total}</h2><table class="compare-owners">` +
      c.owners.map((o) => "<tr>" + Object.values(o).map((v) => `<td>${esc(v)}</td>`).join("") + "</tr>").join("") + "</table>";
    $("compare-result").innerHTML = html;
    const mine = await api("/api/map");
    const small = (fig, title) => ({...fig.layout, height: 460, title: {text: title, x: 0.01}, margin: {l: 10, r: 10, t: 40, b: 10}, dragmode: "pan"});
    const opts = {responsive: true, displaylogo: false};
    await Plotly.newPlot("map-this", mine.data, small(mine, a), opts);
    await Plotly.newPlot("map-other", c.map.data, small(c.map, b), opts);
    say(`comparing with ${b}`);
  } catch (e) { if (!e.handled) say(String(e), true); }
}

function wireMap() {
  const gd = $("map");
  gd.on("plotly_selected", (ev) => {
    if (!ev) return;
    const ids = ev.points.filter((p) => metaOf(gd, p) === "accounts").map((p) => p.customdata[0]);
    selected = new Set(ids);
    $("selected-count").textContent = selected.size;
    $("selected-list").textContent = ids.slice(0, 8).join(", ") + (ids.length > 8 ? ", ..." : "");
  });
  gd.on("plotly_click", (ev) => {
    const p = ev.points.find((q) => metaOf(gd, q) === "accounts");
    if (!p) {
      const region = ev.points.find((q) => metaOf(gd, q) === "region");
      if (region) selectRegion(gd.data[region.curveNumber].name);
      return;
    }
    const a = p.customdata[0];
    if (selected.has(a)) selected.delete(a); else selected.add(a);
    renderSelection();
  });
}

async function start() {
  wire();
  try {
    const lists = await api("/api/accounts");
    accounts = {...lists.accounts, reps: lists.reps, regions: lists.regions};
    $("rep").innerHTML = accounts.reps.map((r) => `<option value="${esc(r.rep_id)}">${esc(r.rep_id)} ${esc(r.name)}</option>`).join("");
    $("region").innerHTML += accounts.regions.map((g) => `<option value="${esc(g)}">${esc(g)}</option>`).join("");
    render(await api("/api/state"));
    await drawMap();
    wireMap();
    if (S.job && S.job.state === "running") pollJob();
    document.body.dataset.ready = "1";
  } catch (e) { if (!e.handled) say(String(e), true); }
}

start();
