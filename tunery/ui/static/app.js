/* tunery UI: a single page over the JSON API (see docs/ui.md).
 *
 * Every piece of data reaches the DOM through textContent (the el() helper and charts.js) and
 * every string handed to plotly (the trial page's curves) goes through plotText(), which
 * escapes the markup plotly would interpret.  Nothing here uses innerHTML.
 *
 * The experiment page loads /trial-columns, shows the header, the best trial and the table
 * first (the table renders only the rows in view), marks the page ready, then draws the graphs
 * in animation-frame chunks (charts.js), and polls /trial-columns?after=<cursor> while the
 * experiment runs.  plotly is loaded only by the trial page.
 */
"use strict";

const POLL_MS = 2000;
/** Table rows rendered above and below the visible ones. */
const OVERSCAN = 20;
/** Above this many trials, graphs are redrawn at most every GRAPH_MIN_MS while polling. */
const MANY_TRIALS = 2000;
const GRAPH_MIN_MS = 10000;
const TOKEN_KEY = "tunery-token";
const main = document.getElementById("main");
let view = null; // the current view's state; replaced on navigation
let pollTimer = null;

// ------------------------------------------------------------------ helpers

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Text for plotly labels: plotly reads a little HTML in strings; show it as text instead.
 * (Parcoords tick labels are plain text already: they get the raw string.) */
function plotText(value) {
  return String(value).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function fmt(value) {
  if (value === null || value === undefined) return "–";
  if (typeof value === "number") {
    if (Number.isInteger(value)) return String(value);
    return Math.abs(value) >= 1e-3 && Math.abs(value) < 1e6 ? String(+value.toPrecision(6)) : value.toExponential(4);
  }
  return String(value);
}

/** ISO 8601 text or milliseconds since the epoch, as local time. */
function fmtTime(when) {
  if (when === null || when === undefined || when === "") return "–";
  const d = new Date(when);
  return isNaN(d) ? String(when) : d.toLocaleString();
}

function enc(s) { return encodeURIComponent(s); }

function notice(text, isError) {
  const box = document.getElementById("notice");
  box.textContent = text;
  box.className = isError ? "error" : "";
  box.hidden = false;
  clearTimeout(notice.timer);
  notice.timer = setTimeout(() => { box.hidden = true; }, isError ? 8000 : 4000);
}

function token() { return sessionStorage.getItem(TOKEN_KEY) || ""; }

function showTokenState() {
  document.getElementById("token-state").textContent = token() ? "token set" : "";
}

/** fetch() with the token, when the tab has one (a server reachable from the network wants
 * it for reads too; on loopback only writes need it). */
async function request(path, options) {
  const opts = Object.assign({}, options || {});
  opts.headers = Object.assign({}, opts.headers);
  delete opts.write;
  const t = token();
  if (t) opts.headers.Authorization = "Bearer " + t;
  return fetch(path, opts);
}

async function api(path, options) {
  const response = await request(path, options);
  let body = null;
  const text = await response.text();
  try { body = text ? JSON.parse(text) : null; } catch (e) { body = { detail: text }; }
  if (!response.ok) {
    const err = new Error((body && body.detail) || response.statusText);
    err.status = response.status;
    throw err;
  }
  return body;
}

/** Export links: fetched with the token and saved from a blob (a plain link sends no token). */
async function saveExport(ev) {
  ev.preventDefault();
  const link = ev.currentTarget;
  try {
    const response = await request(link.getAttribute("href"));
    if (!response.ok) {
      let detail = response.statusText;
      try { detail = (await response.json()).detail || detail; } catch (e) { /* not JSON */ }
      throw new Error(detail);
    }
    const blob = await response.blob();
    const save = el("a", { href: URL.createObjectURL(blob), download: link.getAttribute("download") });
    document.body.append(save);
    save.click();
    save.remove();
    setTimeout(() => URL.revokeObjectURL(save.href), 10_000);
  } catch (err) {
    notice("export refused: " + err.message, true);
  }
}

function timed(label, fn) {
  const t0 = performance.now();
  const out = fn();
  if (window.TUNERY_DEBUG) console.log(label, Math.round(performance.now() - t0), "ms");
  return out;
}

function setReady(name) { document.body.dataset.ready = name; }

function plotConfig(filename) {
  return {
    responsive: true,
    displaylogo: false,
    toImageButtonOptions: { filename },
  };
}

/** PNG and SVG buttons for a plotly graph (div) or a charts.js chart (getChart()). */
function downloadButtons(div, filename, getChart) {
  const save = (format) => {
    if (getChart) {
      const chart = getChart();
      if (chart) chart.download(format, filename).catch((err) => notice("download failed: " + err.message, true));
      else notice("nothing drawn yet", true);
    } else {
      Plotly.downloadImage(div, { format, filename });
    }
  };
  return el("span", { class: "toolbar" },
    el("button", { type: "button", class: "png", onclick: () => save("png") }, "PNG"),
    el("button", { type: "button", class: "svg", onclick: () => save("svg") }, "SVG"));
}

let plotlyLoading = null;
/** plotly.min.js (4.6 MB), loaded the first time a page needs it. */
function loadPlotly() {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!plotlyLoading) {
    plotlyLoading = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = "/static/plotly.min.js";
      script.onload = () => resolve(window.Plotly);
      script.onerror = () => { plotlyLoading = null; reject(new Error("cannot load plotly.min.js")); };
      document.head.append(script);
    });
  }
  return plotlyLoading;
}

function copyButton(getText, label) {
  return el("button", {
    type: "button",
    onclick: async (ev) => {
      const text = getText();
      try {
        await navigator.clipboard.writeText(text);
        notice("copied " + label);
      } catch (e) {
        const pre = ev.target.closest(".copyable").querySelector("pre");
        const range = document.createRange();
        range.selectNodeContents(pre);
        const sel = window.getSelection();
        sel.removeAllRanges();
        sel.addRange(range);
        notice("selected " + label + ": press Ctrl+C");
      }
    },
  }, "Copy " + label);
}

// ------------------------------------------------------------------ routing

function route() {
  clearTimeout(pollTimer);
  pollTimer = null;
  view = null;
  setReady("");
  document.body.dataset.graphs = "";
  document.body.dataset.curves = "";
  document.body.dataset.pareto = "";
  const hash = location.hash || "#/";
  if (hash.startsWith("#token=")) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(hash.slice(7)));
    showTokenState();
    history.replaceState(null, "", location.pathname + "#/");
    return route();
  }
  const [path, query] = hash.slice(1).split(/\?(.*)/s);
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  main.replaceChildren();
  if (parts.length === 0 || (parts.length === 1 && parts[0] === "experiments")) return showList(query);
  if (parts[0] === "create") return showCreate();
  if (parts[0] === "experiments" && parts.length === 2) return showExperiment(parts[1]);
  if (parts[0] === "experiments" && parts.length === 4 && parts[2] === "trials") return showTrial(parts[1], parts[3]);
  main.append(el("p", {}, "Nothing here. ", el("a", { href: "#/" }, "Experiments")));
  setReady("missing");
}

function failView(err) {
  main.replaceChildren(el("div", { class: "card" }, el("h2", {}, "Cannot load"), el("p", { class: "error" }, err.message),
    err.status === 401 ? el("p", { id: "need-token" }, "Paste the token `tunery ui` printed in the Token box above, or open the address it printed.") : null));
  setReady("error");
}

// ------------------------------------------------------------------ experiment list

// showList and the delete dialog: list.js.

// ------------------------------------------------------------------ create

function showCreate() {
  const area = el("textarea", { id: "create-yaml", spellcheck: "false", placeholder: "apiVersion: kubeflow.org/v1beta1\nkind: Experiment\n…" });
  const result = el("p", { id: "create-result" });
  const form = el("form", {
    onsubmit: async (ev) => {
      ev.preventDefault();
      result.textContent = "";
      result.className = "";
      try {
        const created = await api("/api/experiments", {
          method: "POST", write: true, body: area.value, headers: { "Content-Type": "application/yaml" },
        });
        result.textContent = `Stored experiment ${created.name} (${created.status}); run it with: tunery resume ${created.name}`;
        notice("created " + created.name);
      } catch (err) {
        result.textContent = "Refused: " + err.message;
        result.className = "error";
        notice("refused: " + err.message, true);
      }
    },
  }, area, el("div", { class: "toolbar" }, el("button", { type: "submit", id: "create-submit" }, "Validate and store")));
  main.replaceChildren(el("div", { class: "card" },
    el("h1", {}, "Create an experiment"),
    el("p", { class: "muted" }, "Paste a Katib (kubeflow.org/v1beta1) or native (tunery/v1) Experiment. It is validated and stored, not run."),
    form, result));
  setReady("create");
}

// ------------------------------------------------------------------ experiment detail

function paramColumns(exp) { return exp.parameters.length ? exp.parameters.map((p) => p.name) : (exp.assignments || []); }
function metricColumns(exp) { return [exp.objective.objectiveMetricName, ...exp.objective.additionalMetricNames]; }

function isBetter(exp, a, b) {
  return exp.objective.type === "minimize" ? a < b : a > b;
}

function bestTrialName(exp, trials) {
  // String objectives (Katib's Best-Genotype): the latest trial with one is the best (nas.js).
  const latestText = Nas.bestName(exp, trials);
  if (latestText !== null) return latestText;
  let best = null;
  for (const t of trials) {
    if ((t.status !== "Succeeded" && t.status !== "EarlyStopped") || t.objective === null) continue;
    if (Pareto.mark(view, t) === "infeasible") continue; // never the best (pareto.js)
    if (best === null || isBetter(exp, t.objective, best.objective)) best = t;
  }
  return best ? best.name : null;
}

/** Trials (objects) from a /trial-columns answer. */
function trialsFromColumns(cols) {
  const n = cols.name.length;
  const out = new Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = {
      name: cols.name[i], index: cols.index[i], status: cols.status[i], reason: cols.reason[i],
      message: cols.message[i], objective: cols.objective[i], parameters: cols.parameters[i] || {},
      metrics: cols.metrics[i] || {}, createdTime: cols.createdTime[i], startTime: cols.startTime[i],
      completionTime: cols.completionTime[i],
    };
  }
  return out;
}

function columnsUrl(name, cursor) {
  return "/api/experiments/" + enc(name) + "/trial-columns" + (cursor ? "?after=" + enc(cursor) : "");
}

async function showExperiment(name) {
  const state = { name, exp: null, trials: new Map(), list: [], cursor: null, sort: { key: "index", desc: false },
    filter: { status: "", column: "", op: ">=", value: "" }, brushed: null, brushes: {}, charts: {},
    graphSignature: "", graphsAt: 0, doneCount: -1 };
  view = state;
  try {
    const [exp, page] = await Promise.all([api("/api/experiments/" + enc(name)), api(columnsUrl(name))]);
    if (view !== state) return;
    exp.ref = name;  // as the URL named it: the links below name it the same way
    state.exp = exp;
    timed("merge", () => mergeTrials(state, page, true));
  } catch (err) { return failView(err); }
  timed("page", () => buildExperimentPage(state));
  timed("table", () => drawTable(state));
  setReady("experiment");
  // Graphs after the first paint, so that the table and the best trial show (and respond) first.
  requestAnimationFrame(() => setTimeout(() => drawGraphs(state, true), 0));
  schedulePoll(state);
}

function mergeTrials(state, page, full) {
  if (full) state.trials = new Map();
  for (const t of trialsFromColumns(page.columns)) state.trials.set(t.name, t);
  state.cursor = page.cursor;
  state.counts = page.counts;
  state.list = Array.from(state.trials.values()).sort((a, b) => a.index - b.index);
  state.rows = null; // the table's filtered and sorted rows, computed again when drawn
}

function countsAgree(state) {
  const mine = {};
  for (const t of state.list) mine[t.status] = (mine[t.status] || 0) + 1;
  return Object.entries(state.counts).every(([s, n]) => (mine[s] || 0) === n);
}

function schedulePoll(state) {
  clearTimeout(pollTimer);
  pollTimer = setTimeout(() => poll(state), POLL_MS);
}

async function poll(state) {
  if (view !== state) return;
  try {
    const base = "/api/experiments/" + enc(state.name);
    const [exp, page] = await Promise.all([api(base), api(columnsUrl(state.name, state.cursor))]);
    if (view !== state) return;
    const finishedBefore = ["Succeeded", "Failed"].includes(state.exp.status);
    exp.ref = state.name;
    state.exp = exp;
    mergeTrials(state, page, false);
    if (!countsAgree(state)) mergeTrials(state, await api(columnsUrl(state.name)), true);
    updateHeader(state);
    drawTable(state);
    drawGraphs(state, false);
    loadCurves(state);
    if (finishedBefore && ["Succeeded", "Failed"].includes(exp.status)) return; // nothing moves any more
  } catch (err) {
    if (view !== state) return;
    notice("update failed: " + err.message, true);
  }
  schedulePoll(state);
}

function buildExperimentPage(state) {
  const exp = state.exp;
  const file = exp.name;
  state.nodes = {};
  const n = state.nodes;
  n.title = el("h1", { id: "experiment-name" });
  n.facts = el("div", { class: "facts" });
  n.stop = el("button", { type: "button", class: "danger", id: "stop-experiment", onclick: () => stopExperiment(state) }, "Stop experiment");
  n.best = el("div", { id: "best" });
  n.parcoords = el("div", { id: "parcoords", class: "plot" });
  n.parcoordsNote = el("span", { class: "muted", id: "parcoords-note" });
  n.history = el("div", { id: "history", class: "plot" });
  n.edf = el("div", { id: "edf", class: "plot" });
  n.slice = el("div", { id: "slice", class: "grid2" });
  n.timeline = el("div", { id: "timeline", class: "plot small" });
  n.importance = el("div", { id: "importance", class: "plot small" });
  n.contour = el("div", { id: "contour", class: "plot" });
  n.contourPair = el("select", { id: "contour-pair", title: "pair of parameters", onchange: (ev) => { state.contourPair = ev.target.value; state.contourChosen = true; drawContour(state, finishedWithObjective(state)); } });
  n.contourNote = el("p", { class: "muted", id: "contour-note" });
  n.intermediate = el("div", { id: "intermediate", class: "plot" });
  n.intermediateNote = el("p", { class: "muted", id: "intermediate-note" });
  n.importanceNote = el("p", { class: "muted", id: "importance-note" });
  n.importanceMethod = el("select", { id: "importance-method", title: "importance method", onchange: (ev) => { state.importanceMethod = ev.target.value; loadImportance(state); } },
    el("option", { value: "epsilon-squared" }, "epsilon-squared"),
    el("option", { value: "fanova" }, "fANOVA-style (random forest)"));
  n.table = el("table", { id: "trials" });
  n.tbody = el("tbody");
  n.tableScroll = el("div", { class: "table-scroll", id: "trials-scroll", onscroll: () => scheduleRows(state) }, n.table);
  n.yaml = el("pre", { id: "experiment-yaml" });

  const redraw = () => { state.rows = null; drawTable(state); };
  const statusSelect = el("select", { id: "filter-status", onchange: (ev) => { state.filter.status = ev.target.value; redraw(); } },
    el("option", { value: "" }, "any status"),
    ["Created", "Running", "Succeeded", "Failed", "Killed", "EarlyStopped", "MetricsUnavailable"].map((s) => el("option", { value: s }, s)));
  const columnSelect = el("select", { id: "filter-column", onchange: (ev) => { state.filter.column = ev.target.value; redraw(); } },
    el("option", { value: "" }, "filter by…"),
    el("option", { value: "objective" }, "objective"),
    paramColumns(exp).map((p) => el("option", { value: "param:" + p }, p)),
    metricColumns(exp).map((m) => el("option", { value: "metric:" + m }, m + " (latest)")),
    el("option", { value: "message" }, "failure message"));
  const opSelect = el("select", { id: "filter-op", onchange: (ev) => { state.filter.op = ev.target.value; redraw(); } },
    [">=", "<=", "=", "contains"].map((o) => el("option", { value: o }, o)));
  const valueInput = el("input", { id: "filter-value", size: 10, placeholder: "value", oninput: (ev) => { state.filter.value = ev.target.value; redraw(); } });

  main.replaceChildren(
    el("div", { class: "card" },
      el("div", { class: "toolbar" }, n.title, el("span", { style: "flex:1" }), n.stop, deleteButton(state)),
      n.facts,
      el("div", { class: "toolbar" },
        el("a", { href: "/api/experiments/" + enc(exp.ref) + "/trials.csv", download: file + "-trials.csv", onclick: saveExport }, "Export CSV"),
        el("a", { href: "/api/experiments/" + enc(exp.ref) + "/trials.json", download: file + "-trials.json", onclick: saveExport }, "Export JSON"))),
    // Several objectives or constraints: the Pareto front, hypervolume, constraints (pareto.js).
    ...(Pareto.applies(exp) ? Pareto.build(state, el, downloadButtons) : []),
    el("div", { class: "card" }, el("h2", {}, Pareto.isMulti(exp) ? `Best hyperparameters (by ${exp.objective.objectiveMetricName}, the first objective)` : "Best hyperparameters"), n.best),
    el("div", { class: "card" },
      el("div", { class: "toolbar" }, el("h2", {}, "Parallel coordinates"), el("span", { class: "muted" }, "drag along an axis to select a range (click it to clear); the table keeps the trials in every range."), n.parcoordsNote, downloadButtons(n.parcoords, file + "-parcoords", () => state.charts.parcoords)),
      n.parcoords),
    el("div", { class: "grid2" },
      el("div", { class: "card" }, el("div", { class: "toolbar" }, el("h2", {}, "Optimization history"), downloadButtons(n.history, file + "-history", () => state.charts.history)), n.history),
      el("div", { class: "card" }, el("div", { class: "toolbar" }, el("h2", {}, "Parameter importance"), n.importanceMethod, downloadButtons(n.importance, file + "-importance", () => state.charts.importance)), n.importance, n.importanceNote)),
    el("div", { class: "grid2" },
      el("div", { class: "card" }, el("div", { class: "toolbar" }, el("h2", {}, "Empirical distribution (EDF)"), downloadButtons(n.edf, file + "-edf", () => state.charts.edf)), n.edf),
      el("div", { class: "card" }, el("div", { class: "toolbar" }, el("h2", {}, "Timeline"), downloadButtons(n.timeline, file + "-timeline", () => state.charts.timeline)), n.timeline)),
    el("div", { class: "grid2" },
      el("div", { class: "card" }, el("div", { class: "toolbar" }, el("h2", {}, "Contour"), n.contourPair, downloadButtons(n.contour, file + "-contour", () => state.charts.contour)), n.contour, n.contourNote),
      el("div", { class: "card" }, el("div", { class: "toolbar" }, el("h2", {}, "Intermediate values"), downloadButtons(n.intermediate, file + "-intermediate", () => state.charts.intermediate)), n.intermediate, n.intermediateNote)),
    el("div", { class: "card" }, el("div", { class: "toolbar" }, el("h2", {}, "Slice plot"), el("span", { class: "muted" }, "the objective against each parameter; click a dot to open its trial")), n.slice),
    el("div", { class: "card" },
      el("h2", {}, "Trials"),
      el("div", { class: "toolbar" }, statusSelect, columnSelect, opSelect, valueInput, el("span", { class: "muted", id: "trial-count" })),
      n.tableScroll),
    el("div", { class: "card copyable" }, el("div", { class: "toolbar" }, el("h2", {}, "Experiment YAML"), copyButton(() => state.exp.yaml, "YAML")), n.yaml));
  updateHeader(state);
}

/** Seconds as people read a duration: 1h05m, 12m30s, 45s. */
function fmtDuration(seconds) {
  const whole = Math.round(seconds);
  const h = Math.floor(whole / 3600), m = Math.floor((whole % 3600) / 60), s = whole % 60;
  const two = (x) => String(x).padStart(2, "0");
  return h ? `${h}h${two(m)}m` : m ? `${m}m${two(s)}s` : `${s}s`;
}

function updateHeader(state) {
  const exp = state.exp;
  const n = state.nodes;
  n.title.textContent = exp.name;
  const c = exp.trials, seeded = exp.seededTrials || 0;
  n.facts.replaceChildren(...[
    el("span", {}, el("b", {}, "status "), el("span", { class: "status-" + exp.status, id: "experiment-status" }, exp.status)),
    el("span", {}, el("b", {}, "reason "), exp.reason || "–"),
    exp.message ? el("span", {}, el("b", {}, "message "), exp.message) : null,
    el("span", {}, el("b", {}, "algorithm "), exp.algorithm),
    el("span", {}, el("b", {}, "objective "), `${exp.objective.type} ${exp.objective.objectiveMetricName}` + (exp.objective.goal !== null ? ` (goal ${fmt(exp.objective.goal)})` : "")),
    el("span", {}, el("b", {}, "best "), fmt(exp.best)),
    // Warm-start seeds are stored as Succeeded trials but never ran: outside maxTrialCount.
    el("span", { id: "experiment-trials" }, el("b", {}, "trials "), `${c.total - seeded}${exp.maxTrialCount ? "/" + exp.maxTrialCount : ""}: ${c.succeeded - seeded} succeeded, ${c.running} running, ${c.failed + c.metricsUnavailable} failed, ${c.killed} killed, ${c.earlyStopped} early-stopped` + (seeded ? `, ${seeded} seeded (warm start, not run)` : "")),
    el("span", {}, el("b", {}, "created "), fmtTime(exp.createdTime)),
    el("span", {}, el("b", {}, "completed "), fmtTime(exp.completionTime)),
    // The time budget: wall time driven (summed over resumes) of maxExperimentDuration.
    exp.timeBudget ? el("span", { id: "experiment-time-budget" }, el("b", {}, "time budget "),
      `${fmtDuration(exp.timeBudget.drivenSeconds)} of ${fmtDuration(exp.timeBudget.maxSeconds)} driven, ${fmtDuration(exp.timeBudget.remainingSeconds)} left (${exp.timeBudget.policy})`) : null,
    exp.stopRequested ? el("span", { class: "muted" }, "stop requested") : null].filter(Boolean));
  n.stop.disabled = ["Succeeded", "Failed"].includes(exp.status);
  if (n.yaml.textContent !== exp.yaml) n.yaml.textContent = exp.yaml;
  const bh = exp.bestHyperparameters;
  if (!bh) {
    n.best.replaceChildren(el("p", { class: "muted" }, "No trial has reported the objective yet."));
  } else {
    n.best.replaceChildren(
      el("p", {}, "Trial ", el("a", { href: `#/experiments/${enc(exp.ref)}/trials/${enc(bh.trial)}` }, bh.trial), `: ${exp.objective.objectiveMetricName} = `,
        exp.best === null && exp.bestTrial && exp.bestTrial.objectiveText ? el("span", { id: "best-text", title: exp.bestTrial.objectiveText }, Nas.elide(exp.bestTrial.objectiveText, 120)) : fmt(exp.best)),
      el("div", { class: "grid2" },
        el("div", { class: "copyable" }, el("div", { class: "toolbar" }, "As command-line arguments", copyButton(() => bh.cli, "CLI args")), el("pre", { id: "best-cli" }, bh.cli)),
        el("div", { class: "copyable" }, el("div", { class: "toolbar" }, "As YAML", copyButton(() => bh.yaml, "YAML values")), el("pre", { id: "best-yaml" }, bh.yaml))));
  }
}

async function stopExperiment(state) {
  const button = state.nodes.stop;
  if (button.dataset.confirm !== "1") {
    button.dataset.confirm = "1";
    button.textContent = "Click again to stop";
    setTimeout(() => { button.dataset.confirm = ""; button.textContent = "Stop experiment"; }, 4000);
    return;
  }
  button.dataset.confirm = "";
  button.textContent = "Stop experiment";
  try {
    await api("/api/experiments/" + enc(state.name) + "/stop", { method: "POST", write: true });
    notice("stop requested: the controller stops the experiment at its next tick");
  } catch (err) {
    notice("refused: " + err.message, true);
  }
}

// --- graphs

function finishedWithObjective(state) {
  return state.list.filter((t) => typeof t.objective === "number" && Number.isFinite(t.objective));
}

/** Draw the graphs when the finished trials changed; at most every GRAPH_MIN_MS when many. */
function drawGraphs(state, first) {
  if (view !== state) return;
  const done = finishedWithObjective(state);
  let sum = 0;
  for (const t of done) sum += t.index * 31 + t.objective;
  const signature = done.length + ":" + sum;
  if (signature === state.graphSignature) {
    if (first) { document.body.dataset.graphs = "drawn"; loadCurves(state); }
    return;
  }
  // The Pareto cards, then the objectives' axes of the parallel coordinates and the table's marks.
  if (Pareto.applies(state.exp)) Pareto.load(state, api, enc, () => { drawParcoords(state, finishedWithObjective(state)); drawTable(state); });
  const wait = state.graphsAt + GRAPH_MIN_MS - Date.now();
  if (!first && state.list.length > MANY_TRIALS && wait > 0) {
    clearTimeout(state.graphTimer);
    state.graphTimer = setTimeout(() => drawGraphs(state, false), wait);
    return;
  }
  state.graphSignature = signature;
  state.graphsAt = Date.now();
  const drawn = [timed("parcoords", () => drawParcoords(state, done)), timed("history", () => drawHistory(state, done)),
    timed("edf", () => drawEdf(state, done)), timed("slice", () => drawSlice(state, done)),
    timed("timeline", () => drawTimeline(state)), timed("contour", () => drawContour(state, done))];
  if (done.length !== state.doneCount) {
    state.doneCount = done.length;
    drawn.push(loadImportance(state));
  }
  // The learning curves (a larger answer) once the other graphs are drawn.
  Promise.all(drawn).then(() => { if (view === state) { document.body.dataset.graphs = "drawn"; if (first) loadCurves(state); } });
}

function emptyGraph(div, text) {
  div.classList.remove("chart");
  div.tuneryChart = null;
  div.replaceChildren(el("p", { class: "muted" }, text));
}

function drawParcoords(state, done) {
  const exp = state.exp;
  const div = state.nodes.parcoords;
  const note = state.nodes.parcoordsNote;
  state.charts.parcoords = null;
  if (done.length === 0) {
    note.replaceChildren();
    emptyGraph(div, "No finished trial with an objective yet.");
    setBrushed(state, null, done);
    return Promise.resolve();
  }
  if (!exp.parameters.length && exp.assignments) {
    // A neural architecture search: no parameter axes (its architectures are text).
    note.replaceChildren();
    emptyGraph(div, "A neural architecture search has no parameter axes; the table lists each trial's architecture.");
    setBrushed(state, null, done);
    return Promise.resolve();
  }
  const dims = parameterAxes(exp, done);
  const objName = exp.objective.objectiveMetricName;
  let objectives = done.map((t) => t.objective);
  let colorLabel = objName;
  let bestHigh = exp.objective.type === "maximize";
  // Several objectives: one axis each, coloured by the first; no single best line.
  const multi = Pareto.objectiveAxes(state, done);
  if (multi) {
    dims.push(...multi.axes);
    ({ color: objectives, colorLabel, bestHigh } = multi);
  } else {
    dims.push({ label: objName, values: objectives });
  }
  const bestName = Pareto.isMulti(exp) ? null : bestTrialName(exp, done);
  const chart = Charts.parcoords(div, {
    dims, color: objectives, colorLabel, bestHigh,
    best: done.findIndex((t) => t.name === bestName), brushes: state.brushes,
    onBrush: (mask, brushes) => { state.brushes = brushes; setBrushed(state, mask, done); drawTable(state); },
  });
  state.charts.parcoords = chart;
  setBrushed(state, chart.mask, done);
  return chart.drawn;
}

function setBrushed(state, mask, done) {
  const note = state.nodes.parcoordsNote;
  if (!mask) {
    state.brushed = null;
    const skip = state.exp.parameters.some((p) => p.activeWhen) ? " A line skips the axes of the parameters inactive in its trial." : "";
    note.textContent = done.length ? `${done.length} trials; the best in red.${skip}` : "";
  } else {
    state.brushed = new Set(done.filter((_, i) => mask[i]).map((t) => t.name));
    note.textContent = `${state.brushed.size} of ${done.length} trials in the selected ranges.`;
  }
  state.rows = null;
}

function drawHistory(state, done) {
  const exp = state.exp;
  const div = state.nodes.history;
  state.charts.history = null;
  if (done.length === 0) {
    emptyGraph(div, "No finished trial with an objective yet.");
    return Promise.resolve();
  }
  const sorted = done.slice().sort((a, b) => a.index - b.index);
  const line = { x: [], y: [] };
  let best = null;
  for (const t of sorted) {
    if (t.status !== "Succeeded" && t.status !== "EarlyStopped") continue;
    if (best === null || isBetter(exp, t.objective, best)) {
      best = t.objective;
      line.x.push(t.index);
      line.y.push(best);
    }
  }
  const chart = Charts.history(div, {
    x: sorted.map((t) => t.index), y: sorted.map((t) => t.objective), names: sorted.map((t) => t.name), line,
    xLabel: "trial index", xInteger: true, yLabel: exp.objective.objectiveMetricName,
    onClick: (i) => { location.hash = `#/experiments/${enc(exp.ref)}/trials/${enc(sorted[i].name)}`; },
  });
  state.charts.history = chart;
  return chart.drawn;
}

const STATUS_COLOURS = {
  Succeeded: "#2f9e44", EarlyStopped: "#74c0fc", Running: "#fab005", Created: "#adb5bd",
  Failed: "#e03131", MetricsUnavailable: "#c2255c", Killed: "#868e96",
};

/** ISO 8601 text or milliseconds since the epoch (as fmtTime reads them), as milliseconds. */
function epochMs(when) {
  if (when === null || when === undefined || when === "") return NaN;
  return typeof when === "number" ? when : new Date(when).getTime();
}

/** Every started trial as a bar from its start to its end (now while it runs), by status. */
function drawTimeline(state) {
  const div = state.nodes.timeline;
  state.charts.timeline = null;
  const now = Date.now();
  const items = [];
  for (const t of state.list) {
    const start = epochMs(t.startTime);
    if (!Number.isFinite(start)) continue;
    const end = t.completionTime === null || t.completionTime === undefined ? now : epochMs(t.completionTime);
    items.push({ name: t.name, start, end: Number.isFinite(end) ? Math.max(end, start) : now, status: t.status });
  }
  if (items.length === 0) {
    emptyGraph(div, "No trial has started yet.");
    return Promise.resolve();
  }
  const chart = Charts.timeline(div, { items, colours: STATUS_COLOURS });
  state.charts.timeline = chart;
  return chart.drawn;
}

/** The parallel-coordinates axis of each parameter (values, ticks), shared by the slice plot. */
function parameterAxes(exp, done) {
  return exp.parameters.map((p) => {
    const name = p.name;
    const values = done.map((t) => t.parameters[name]);
    if (p.parameterType === "categorical" || values.some((v) => typeof v === "string")) {
      const cats = (p.feasibleSpace.list || []).map(String);
      for (const v of values) if (v !== undefined && v !== null && !cats.includes(String(v))) cats.push(String(v));
      const at = new Map(cats.map((c, i) => [c, i]));
      return { label: name, values: values.map((v) => (v === undefined || v === null ? NaN : at.get(String(v)))), ticktext: cats };
    }
    const numbers = values.map((v) => (typeof v === "number" ? v : NaN));
    const logScale = ["logUniform", "logNormal"].includes(p.feasibleSpace.distribution);
    if (logScale && numbers.every((v) => !(v <= 0))) {
      return { label: "log10 " + name, values: numbers.map((v) => Math.log10(v)), log: true };
    }
    // Whole ticks on the axis of an int parameter (or of a discrete one with whole values only).
    const integer = p.parameterType === "int" ||
      (p.parameterType === "discrete" && (p.feasibleSpace.list || []).length > 0 && p.feasibleSpace.list.every((v) => Number.isInteger(Number(v))));
    return { label: name, values: numbers, integer };
  });
}

/** One small scatter per parameter: each finished trial's objective against its value. */
function drawSlice(state, done) {
  const exp = state.exp;
  const box = state.nodes.slice;
  state.charts.slice = [];
  if (done.length === 0) {
    box.replaceChildren(el("p", { class: "muted" }, "No finished trial with an objective yet."));
    return Promise.resolve();
  }
  const axes = parameterAxes(exp, done);
  const divs = axes.map((axis) => el("div", { class: "plot small slice", dataset: { param: axis.label } }));
  box.replaceChildren(...divs);
  const drawn = axes.map((axis, k) => {
    let xTicks = null;
    let xRange = null;
    if (axis.ticktext) {
      xTicks = axis.ticktext.map((text, i) => [i, text]);
      xRange = [-0.5, axis.ticktext.length - 0.5];
    } else if (axis.log) {
      const [lo, hi] = [Math.min(...axis.values.filter(Number.isFinite)), Math.max(...axis.values.filter(Number.isFinite))];
      const decades = [];
      const real = (v) => String(+Math.pow(10, v).toPrecision(3));
      for (let d = Math.ceil(lo - 1e-9); d <= Math.floor(hi + 1e-9); d++) decades.push([d, real(d)]);
      xTicks = decades.length >= 2 ? decades : [[lo, real(lo)], [hi, real(hi)]];
    }
    const chart = Charts.history(divs[k], {
      x: axis.values, y: done.map((t) => t.objective), names: done.map((t) => t.name),
      xLabel: axis.label, yLabel: exp.objective.objectiveMetricName, xInteger: axis.integer, xTicks, xRange,
      onClick: (i) => { location.hash = `#/experiments/${enc(exp.ref)}/trials/${enc(done[i].name)}`; },
    });
    state.charts.slice.push(chart);
    return chart.drawn;
  });
  return Promise.all(drawn);
}

/** The empirical distribution of the objective: the fraction of finished trials at or below each
 * value (a step line), each trial a dot on it (click to open). */
function drawEdf(state, done) {
  const exp = state.exp;
  const div = state.nodes.edf;
  state.charts.edf = null;
  if (done.length === 0) {
    emptyGraph(div, "No finished trial with an objective yet.");
    return Promise.resolve();
  }
  const sorted = done.slice().sort((a, b) => a.objective - b.objective || a.index - b.index);
  const n = sorted.length;
  const x = sorted.map((t) => t.objective);
  const y = sorted.map((_, i) => (i + 1) / n);
  const chart = Charts.history(div, {
    x, y, names: sorted.map((t) => t.name), line: { x, y }, lineLabel: "fraction at or below",
    xLabel: exp.objective.objectiveMetricName, yLabel: "cumulative fraction of trials",
    onClick: (i) => { location.hash = `#/experiments/${enc(exp.ref)}/trials/${enc(sorted[i].name)}`; },
  });
  state.charts.edf = chart;
  return chart.drawn;
}

async function loadImportance(state) {
  let data;
  const method = state.importanceMethod || "epsilon-squared";
  try { data = await api("/api/experiments/" + enc(state.name) + "/importance?method=" + enc(method)); } catch (err) { return; }
  if (view !== state || method !== (state.importanceMethod || "epsilon-squared")) return; // a newer choice is loading
  if (view !== state) return;
  // The contour's pairs follow the importance the card shows (the space's order without it).
  state.importanceOrder = data.parameters.length ? data.parameters.map((i) => i.name) : null;
  drawContour(state, finishedWithObjective(state));
  const div = state.nodes.importance;
  state.nodes.importanceNote.textContent = (data.message ? data.message + ". " : "") + `Method: ${data.method} (${data.trials} trials).`;
  state.charts.importance = null;
  if (!data.parameters.length) { emptyGraph(div, "Not enough finished trials yet."); return; }
  // Shares of the total (they sum to 1), as optuna shows them; the method named on the chart.
  const explained = data.parameters.some((i) => i.normalized > 0);
  state.charts.importance = Charts.bars(div, {
    items: data.parameters.map((i) => ({ label: i.name, value: i.normalized })),
    xLabel: explained ? "share of the importance (sums to 1)" : "no parameter explains more than chance",
    title: "Method: " + data.methodName,
  });
}

/** Pairs of parameters, most important first: those of the two most important, then those
 * the third adds, and so on (tunery.plots.contour_pairs: the SDK's contour panels agree). */
function contourPairs(order) {
  const pairs = [];
  for (let j = 1; j < order.length; j++) for (let i = 0; i < j; i++) pairs.push([order[i], order[j]]);
  return pairs;
}

/** The objective over the chosen pair of parameters (the selector lists every pair, most
 * important first). */
function drawContour(state, done) {
  const exp = state.exp;
  const div = state.nodes.contour;
  const select = state.nodes.contourPair;
  state.charts.contour = null;
  const names = exp.parameters.map((p) => p.name);
  const byImportance = state.importanceOrder && state.importanceOrder.length === names.length;
  const order = byImportance ? state.importanceOrder : names;
  const pairs = contourPairs(order);
  const keys = pairs.map((p) => JSON.stringify(p));
  if (select.dataset.keys !== keys.join("|")) {
    select.dataset.keys = keys.join("|");
    select.replaceChildren(...pairs.map((p, k) => el("option", { value: keys[k] }, `${p[0]} × ${p[1]}`)));
  }
  // The most important pair, until the user picks another (kept while it exists).
  if (!state.contourChosen || !keys.includes(state.contourPair)) state.contourPair = keys[0];
  if (state.contourPair) select.value = state.contourPair;
  select.hidden = pairs.length < 2;
  div.dataset.order = byImportance ? "importance" : "space";
  state.nodes.contourNote.textContent = pairs.length === 0 ? "" : byImportance
    ? "Pairs by parameter importance (the card's method), the most important first; dots are trials, the best ringed in red."
    : "Pairs in the search space's order (importance needs more finished trials); dots are trials, the best ringed in red.";
  if (pairs.length === 0) {
    emptyGraph(div, "A contour needs two parameters.");
    return Promise.resolve();
  }
  if (done.length === 0) {
    emptyGraph(div, "No finished trial with an objective yet.");
    return Promise.resolve();
  }
  const [a, b] = JSON.parse(state.contourPair);
  const axes = parameterAxes(exp, done);
  const bestName = bestTrialName(exp, done);
  const chart = Charts.contour(div, {
    x: axes[names.indexOf(a)], y: axes[names.indexOf(b)], z: done.map((t) => t.objective), names: done.map((t) => t.name),
    best: done.findIndex((t) => t.name === bestName), bestHigh: exp.objective.type === "maximize",
    zLabel: exp.objective.objectiveMetricName,
    onClick: (i) => { location.hash = `#/experiments/${enc(exp.ref)}/trials/${enc(done[i].name)}`; },
  });
  chart.pair = [a, b];
  state.charts.contour = chart;
  return chart.drawn;
}

/** Every trial's curve of the objective metric (GET .../observations), then only the curves
 * that changed (after= the answer's cursor); drawn again when any changed. */
async function loadCurves(state) {
  if (state.curvesLoading) return;
  const metric = state.exp.objective.objectiveMetricName;
  state.curvesLoading = true;
  try {
    const after = state.curvesCursor ? "&after=" + enc(state.curvesCursor) : "";
    const data = await api("/api/experiments/" + enc(state.name) + "/observations?metric=" + enc(metric) + after);
    if (view !== state) return;
    if (!state.curves || data.full) state.curves = new Map();
    let changed = data.full;
    for (const t of data.trials) {
      const old = state.curves.get(t.name);
      if (!old || old.status !== t.status || old.steps.length !== t.steps.length || old.stored !== t.stored) changed = true;
      state.curves.set(t.name, t);
    }
    state.curvesCursor = data.cursor;
    if (changed) drawCurves(state);
  } catch (err) {
    if (view === state) notice("curves: " + err.message, true);
  } finally {
    state.curvesLoading = false;
  }
}

function drawCurves(state) {
  const exp = state.exp;
  const div = state.nodes.intermediate;
  const wait = (state.curvesAt || 0) + GRAPH_MIN_MS - Date.now();
  if (state.list.length > MANY_TRIALS && wait > 0 && state.charts.intermediate) {
    clearTimeout(state.curvesTimer);
    state.curvesTimer = setTimeout(() => { if (view === state) drawCurves(state); }, wait);
    return;
  }
  state.curvesAt = Date.now();
  state.charts.intermediate = null;
  const series = Array.from(state.curves.values()).sort((a, b) => a.index - b.index);
  const metric = exp.objective.objectiveMetricName;
  const stopped = series.filter((s) => s.status === "EarlyStopped").length;
  const thinned = series.filter((s) => s.steps.length < s.stored).length;
  state.nodes.intermediateNote.textContent = series.length === 0 ? "" :
    `${series.length} trials' ${metric} by step; ${stopped} early-stopped (dashed, × where stopped); click a curve to open its trial.` +
    (thinned ? ` ${thinned} long curves drawn from a sample of their points.` : "");
  if (series.length === 0) {
    emptyGraph(div, `No trial has reported ${metric} yet.`);
    document.body.dataset.curves = "drawn";
    return;
  }
  const chart = Charts.curves(div, {
    series, best: bestTrialName(exp, state.list), xLabel: "step", yLabel: metric,
    onClick: (name) => { location.hash = `#/experiments/${enc(exp.ref)}/trials/${enc(name)}`; },
  });
  state.charts.intermediate = chart;
  chart.drawn.then(() => { if (view === state) document.body.dataset.curves = "drawn"; });
}

// --- table

/** Why a failed trial failed (its message ends with the last line of its output); null otherwise. */
function failureMessage(t) {
  return ["Failed", "MetricsUnavailable"].includes(t.status) ? t.message || t.reason || null : null;
}

function cellValue(t, key) {
  if (key === "message") return failureMessage(t);
  if (key === "pareto") return Pareto.mark(view, t);
  if (key.startsWith("param:")) return t.parameters[key.slice(6)];
  if (key.startsWith("metric:")) return Nas.latest(t.metrics[key.slice(7)]);
  if (key === "objective" && t.objective === null) return Nas.objectiveText(view.exp, t);
  return t[key];
}

function compareValues(a, b) {
  const an = typeof a === "number";
  const bn = typeof b === "number";
  if (an && bn) return a - b;
  if (an !== bn) return an ? -1 : 1;
  return String(a).localeCompare(String(b));
}

function filteredSorted(state) {
  const f = state.filter;
  let rows = state.list;
  if (state.brushed) rows = rows.filter((t) => state.brushed.has(t.name));
  if (f.status) rows = rows.filter((t) => t.status === f.status);
  if (f.column && f.value !== "") {
    const num = Number(f.value);
    rows = rows.filter((t) => {
      const v = cellValue(t, f.column);
      if (v === null || v === undefined) return false;
      if (f.op === "contains") return String(v).toLowerCase().includes(f.value.toLowerCase());
      if (f.op === "=") return typeof v === "number" && !isNaN(num) ? v === num : String(v) === f.value;
      if (isNaN(num) || typeof v !== "number") return false;
      return f.op === ">=" ? v >= num : v <= num;
    });
  }
  const { key, desc } = state.sort;
  const present = [];
  const missing = [];
  for (const t of rows) {
    const v = cellValue(t, key);
    (v === null || v === undefined ? missing : present).push([v, t]);
  }
  present.sort((a, b) => compareValues(a[0], b[0]) * (desc ? -1 : 1) || a[1].index - b[1].index);
  return present.map((p) => p[1]).concat(missing.map((p) => p[1]));
}

function tableColumns(exp, list) {
  return [
    ["index", "#"], ["name", "trial"], ["status", "status"], ["objective", "objective"],
    // Several objectives or constraints: the Pareto front and the infeasible trials (pareto.js).
    ...(Pareto.applies(exp) ? [["pareto", Pareto.isMulti(exp) ? "Pareto" : "feasible"]] : []),
    ...paramColumns(exp).map((p) => ["param:" + p, p]),
    ...metricColumns(exp).map((m) => ["metric:" + m, m]),
    ["startTime", "started"], ["completionTime", "completed"],
    // Failed trials say why, in a column of their own (only when there are some).
    ...((list || []).some(failureMessage) ? [["message", "failure"]] : []),
  ];
}

function drawTable(state) {
  const exp = state.exp;
  const columns = tableColumns(exp, state.list);
  if (!state.rows) state.rows = filteredSorted(state);
  state.bestName = Pareto.isMulti(exp) ? null : bestTrialName(exp, state.list);
  const head = el("tr", {}, columns.map(([key, label]) => el("th", {
    class: "sortable" + (state.sort.key === key ? (state.sort.desc ? " sorted-desc" : " sorted-asc") : ""),
    dataset: { key },
    onclick: () => {
      state.sort = { key, desc: state.sort.key === key ? !state.sort.desc : false };
      state.rows = null;
      drawTable(state);
    },
  }, label)));
  state.nodes.table.replaceChildren(el("thead", {}, head), state.nodes.tbody);
  document.getElementById("trial-count").textContent = `${state.rows.length} of ${state.list.length} trials` +
    (state.brushed ? " (within the parallel-coordinates selection)" : "") + (state.bestName ? "; best highlighted" : "");
  renderRows(state);
}

function scheduleRows(state) {
  if (state.rowsFrame) return;
  state.rowsFrame = requestAnimationFrame(() => { state.rowsFrame = 0; if (view === state) renderRows(state); });
}

/** Only the rows in view (and OVERSCAN more each side); spacers keep the scroll height. */
function renderRows(state) {
  const exp = state.exp;
  const columns = tableColumns(exp, state.list);
  const rows = state.rows;
  const scroll = state.nodes.tableScroll;
  const rowH = state.rowH || 28;
  const first = Math.max(0, Math.floor(scroll.scrollTop / rowH) - OVERSCAN);
  const last = Math.min(rows.length, Math.ceil((scroll.scrollTop + (scroll.clientHeight || 600)) / rowH) + OVERSCAN);
  const spacer = (height) => el("tr", { class: "spacer" }, el("td", { colspan: columns.length, style: `height:${height}px;padding:0;border:0` }));
  const body = [];
  if (first > 0) body.push(spacer(first * rowH));
  for (let i = first; i < last; i++) {
    const t = rows[i];
    body.push(el("tr", { class: t.name === state.bestName ? "best" : null, dataset: { trial: t.name } }, columns.map(([key]) => {
      const v = cellValue(t, key);
      if (key === "name") return el("td", {}, el("a", { href: `#/experiments/${enc(exp.ref)}/trials/${enc(t.name)}` }, t.name));
      if (key === "status") return el("td", { class: "status-" + t.status, title: [t.reason, t.message].filter(Boolean).join(": ") }, t.status);
      if (key === "startTime" || key === "completionTime") return el("td", {}, fmtTime(v));
      if (key === "message") return el("td", { class: "failure", title: v || "" }, v || "");
      if (key === "pareto") return el("td", { class: "pareto-mark" }, v ? el("span", { class: "badge badge-" + v }, v) : "");
      // A long string (a genotype, an ENAS architecture): elided, whole in the title.
      if (typeof v === "string" && v.length > 48) return el("td", { class: "elided", title: v }, Nas.elide(v));
      return el("td", {}, fmt(v));
    })));
  }
  if (last < rows.length) body.push(spacer((rows.length - last) * rowH));
  state.nodes.tbody.replaceChildren(...body);
  const sample = state.nodes.tbody.querySelector("tr[data-trial]");
  if (sample && sample.offsetHeight && Math.abs(sample.offsetHeight - rowH) > 0.5 && !state.rowMeasured) {
    state.rowMeasured = true;
    state.rowH = sample.offsetHeight;
    renderRows(state);
  }
}

// ------------------------------------------------------------------ trial detail

async function showTrial(expName, trialName) {
  const state = { expName, trialName };
  view = state;
  let trial;
  try {
    [trial] = await Promise.all([api(`/api/experiments/${enc(expName)}/trials/${enc(trialName)}`), loadPlotly()]);
  } catch (err) { return failView(err); }
  if (view !== state) return;
  state.nodes = {
    title: el("h1", { id: "trial-name" }),
    facts: el("div", { class: "facts" }),
    kill: el("button", { type: "button", class: "danger", id: "kill-trial", onclick: () => killTrial(state) }, "Kill trial"),
    params: el("table", { id: "trial-parameters" }),
    metrics: el("table", { id: "trial-metrics" }),
    curves: el("div", { id: "curves" }),
    curvesNote: el("p", { id: "curves-note", class: "muted" }),
    log: el("pre", { id: "trial-log" }),
    logNote: el("p", { class: "muted" }),
  };
  const n = state.nodes;
  main.replaceChildren(
    el("p", {}, el("a", { href: "#/experiments/" + enc(expName) }, "← " + expName)),
    el("div", { class: "card" }, el("div", { class: "toolbar" }, n.title, el("span", { style: "flex:1" }), n.kill), n.facts),
    el("div", { class: "grid2" },
      el("div", { class: "card" }, el("h2", {}, "Parameters"), n.params),
      el("div", { class: "card" }, el("h2", {}, "Metrics"), n.metrics)),
    el("div", { class: "card" }, el("h2", {}, "Metric curves"), n.curvesNote, n.curves),
    el("div", { class: "card" }, el("h2", {}, "output.log (tail)"), n.logNote, n.log));
  renderTrial(state, trial);
  setReady("trial");
  const pollTrial = async () => {
    if (view !== state) return;
    try {
      const t = await api(`/api/experiments/${enc(expName)}/trials/${enc(trialName)}`);
      if (view !== state) return;
      renderTrial(state, t);
      if (["Created", "Running"].includes(t.status)) pollTimer = setTimeout(pollTrial, POLL_MS);
    } catch (err) { notice("update failed: " + err.message, true); }
  };
  if (["Created", "Running"].includes(trial.status)) pollTimer = setTimeout(pollTrial, POLL_MS);
}

/** A trial's own metrics file or directory (File, TensorFlowEvent collectors): `metricsPath`
 * unless it is the trial's output log (what the StdOut collector reads; shown below anyway). */
function ownMetricsFile(t) {
  return Boolean(t.metricsPath) && !t.metricsPath.endsWith("/" + t.name + "/output.log");
}

function renderTrial(state, t) {
  const n = state.nodes;
  n.title.textContent = t.name;
  n.kill.disabled = !["Created", "Running"].includes(t.status);
  n.facts.replaceChildren(...[
    el("span", {}, el("b", {}, "status "), el("span", { class: "status-" + t.status, id: "trial-status" }, t.status)),
    el("span", {}, el("b", {}, "reason "), t.reason || "–"),
    typeof t.objectiveText === "string" ? el("span", { id: "trial-objective-text", title: t.objectiveText }, el("b", {}, "objective "), Nas.elide(t.objectiveText, 120))
      : el("span", {}, el("b", {}, "objective "), fmt(t.objective)),
    // Several objectives: each value, in the experiment's order; a violated constraint says so.
    Array.isArray(t.objectives) && t.objectives.length > 1 ? el("span", { id: "trial-objectives" }, el("b", {}, "objectives "), t.objectives.map(fmt).join(", ")) : null,
    t.feasible === false ? el("span", { id: "trial-infeasible", class: "badge badge-infeasible", title: "a constraint is violated: never best, never on the Pareto front" }, "infeasible") : null,
    el("span", {}, el("b", {}, "started "), fmtTime(t.startTime)),
    el("span", {}, el("b", {}, "completed "), fmtTime(t.completionTime)),
    // algorithm auto: the algorithm that suggested this trial.
    (t.labels || {})["tunery.dev/suggested-by"] ? el("span", { id: "trial-suggested-by" }, el("b", {}, "suggested by "), t.labels["tunery.dev/suggested-by"]) : null,
    t.message ? el("div", { id: "trial-message" }, el("b", {}, "message "), t.message) : null,
    ownMetricsFile(t) ? el("div", { id: "trial-metrics-path" }, el("b", {}, "metrics file "), t.metricsPath) : null,
    (t.thinned || []).length ? el("div", { id: "trial-thinned" }, el("b", {}, "observations thinned "),
      `${t.thinned.join(", ")}: reported more times than are stored, so the stored curve is a sample (min, max and latest are exact)`) : null].filter(Boolean));
  n.params.replaceChildren(el("tbody", {}, Object.entries(t.parameters).map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", {}, fmt(v))))));
  n.metrics.replaceChildren(
    el("thead", {}, el("tr", {}, ["metric", "min", "max", "latest"].map((h) => el("th", {}, h)))),
    el("tbody", {}, Object.entries(t.metrics).map(([k, m]) => el("tr", {}, el("td", {}, k), el("td", {}, fmt(m.min)), el("td", {}, fmt(m.max)), Nas.latest(m) !== null && typeof Nas.latest(m) === "string" ? el("td", { class: "metric-text" }, Nas.latest(m)) : el("td", {}, fmt(m.latest))))));
  // A NAS trial: its layers or its genotype's cells, drawn (nas.js).
  const arch = t.architecture ? Nas.card(el, t.architecture) : null;
  if (state.nodes.arch) state.nodes.arch.remove();
  state.nodes.arch = arch;
  if (arch) n.metrics.closest(".grid2").after(arch);
  const names = Object.keys(t.observations);
  const count = (x) => x.toLocaleString("en-US");
  n.curvesNote.textContent = names.filter((m) => t.series && t.series[m] && t.series[m].returned < t.series[m].reported)
    .map((m) => { const s = t.series[m]; return `${m}: ${count(s.reported)} values reported, ${count(s.stored)} stored, ${count(s.returned)} drawn.`; }).join(" ");
  if (!state.curveDivs) state.curveDivs = {};
  if (names.length === 0) n.curves.replaceChildren(el("p", { class: "muted" }, "No observations."));
  for (const metric of names) {
    let div = state.curveDivs[metric];
    if (!div) {
      div = el("div", { class: "plot small curve", dataset: { metric } });
      state.curveDivs[metric] = div;
      if (n.curves.querySelector("p")) n.curves.replaceChildren();
      n.curves.append(el("div", { class: "toolbar" }, el("b", {}, metric), downloadButtons(div, `${t.name}-${metric}`)), div);
    }
    const obs = t.observations[metric];
    Plotly.react(div, [{ type: "scatter", mode: obs.length > 1 ? "lines+markers" : "markers", name: plotText(metric), x: obs.map((o) => o.step), y: obs.map((o) => o.value), marker: { size: 4 } }],
      { margin: { l: 60, r: 20, t: 10, b: 40 }, xaxis: { title: { text: "step" } }, yaxis: { title: { text: plotText(metric) } } }, plotConfig(`${t.name}-${metric}`));
  }
  if (t.log) {
    n.log.textContent = t.log.text;
    n.logNote.textContent = t.log.truncated ? `last ${t.log.text.length} characters of ${t.log.size} bytes` : `${t.log.size} bytes`;
  } else {
    n.log.textContent = "";
    n.logNote.textContent = "No output.log for this trial on this machine.";
  }
}

async function killTrial(state) {
  try {
    await api(`/api/experiments/${enc(state.expName)}/trials/${enc(state.trialName)}/kill`, { method: "POST", write: true });
    notice("kill requested: the controller kills the trial at its next tick");
  } catch (err) {
    notice("refused: " + err.message, true);
  }
}

// ------------------------------------------------------------------ start

document.getElementById("token-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const input = document.getElementById("token-input");
  if (input.value) sessionStorage.setItem(TOKEN_KEY, input.value);
  else sessionStorage.removeItem(TOKEN_KEY);
  input.value = "";
  showTokenState();
  notice(token() ? "token stored for this tab" : "token cleared");
  // A page refused for want of the token (a server reachable from the network): load it again.
  if (document.body.dataset.ready === "error") route();
});
window.addEventListener("hashchange", route);
showTokenState();
route();
