/* tunery UI: the experiment list (sort, filter) and deleting an experiment (see docs/ui.md).
 *
 * Loaded before app.js, whose helpers (el, api, fmt, fmtTime, enc, notice, token, setReady,
 * failView, main, pollTimer, route) it uses once the page has started.  The list loads every
 * experiment once (GET /api/experiments) and sorts and filters in the page: each row is built
 * once per load and only reordered or hidden afterwards, so typing in the filter stays fast
 * with thousands of experiments.  The sort and the filters live in the address
 * (#/?sort=-created&q=mnist&status=Running), so a reload or a shared link shows the same list,
 * and in localStorage, so coming back to the list (#/) shows it as it was left.
 */
"use strict";

const LIST_KEY = "tunery-list";
const ENDED = ["Succeeded", "Failed"];
const EXPERIMENT_STATUSES = ["Created", "Running", "Restarting", "Interrupted", "Succeeded", "Failed"];

/** Nulls (no best value, never started) sort last in both directions. */
function compareNullable(a, b, desc) {
  const am = a === null || a === undefined || a === "";
  const bm = b === null || b === undefined || b === "";
  if (am || bm) return am === bm ? 0 : am ? 1 : -1;
  const order = typeof a === "number" && typeof b === "number" ? a - b : String(a).localeCompare(String(b));
  return desc ? -order : order;
}

/** `tunery list`'s cell: early-stopped trials are ok (they have their objective); warm-start
 * seeds (e.seededTrials, stored as Succeeded) never ran, so they are said apart. */
function trialSummary(e) {
  const t = e.trials, seeded = e.seededTrials || 0;
  const failed = t.failed + t.metricsUnavailable;
  return `${t.succeeded + t.earlyStopped - seeded}/${t.total - seeded} ok` +
    (t.earlyStopped ? ` (${t.earlyStopped} early-stopped)` : "") + (failed ? `, ${failed} failed` : "") +
    (t.running ? `, ${t.running} running` : "") + (seeded ? `, ${seeded} seeded` : "");
}

/** How a URL names each experiment (`e.ref`): its name, or "<namespace>.<name>" when the name
 * is taken in several namespaces (the API resolves both; names and namespaces hold no dot). */
function setExperimentRefs(experiments) {
  const count = new Map();
  for (const e of experiments) count.set(e.name, (count.get(e.name) || 0) + 1);
  for (const e of experiments) e.ref = count.get(e.name) > 1 ? e.namespace + "." + e.name : e.name;
  return experiments;
}

/** The list's columns: key (in the address), header, sort value, cell.  A column added here
 * (a namespace, say) sorts like the others. */
const LIST_COLUMNS = [
  { key: "name", label: "name", value: (e) => e.name,
    cell: (e) => el("td", {}, el("a", { href: "#/experiments/" + enc(e.ref) }, e.name)) },
  { key: "namespace", label: "namespace", value: (e) => e.namespace,
    cell: (e) => el("td", { class: "muted" }, e.namespace) },
  { key: "status", label: "status", value: (e) => e.status,
    cell: (e) => el("td", { class: "status-" + e.status }, e.status) },
  { key: "reason", label: "reason", value: (e) => e.reason, cell: (e) => el("td", {}, e.reason || "") },
  { key: "algorithm", label: "algorithm", value: (e) => e.algorithm, cell: (e) => el("td", {}, e.algorithm) },
  { key: "objective", label: "objective", value: (e) => e.objective.objectiveMetricName,
    cell: (e) => el("td", {}, e.objective.type + " " + e.objective.objectiveMetricName) },
  { key: "best", label: "best", value: (e) => e.best, cell: (e) => el("td", {}, fmt(e.best)) },
  { key: "trials", label: "trials", value: (e) => e.trials.total, cell: (e) => el("td", { title: `${e.trials.total} trials` }, trialSummary(e)) },
  { key: "created", label: "created", value: (e) => e.createdTime, cell: (e) => el("td", {}, fmtTime(e.createdTime)) },
  { key: "started", label: "started", value: (e) => e.startTime, cell: (e) => el("td", {}, fmtTime(e.startTime)) },
  { key: "completed", label: "completed", value: (e) => e.completionTime, cell: (e) => el("td", {}, fmtTime(e.completionTime)) },
];

/** The list's filters: key (in the address) and test.  An empty value lets everything through. */
const LIST_FILTERS = [
  { key: "q", test: (e, value) => e.name.toLowerCase().includes(value.toLowerCase()) },
  { key: "status", test: (e, value) => e.status === value },
];

/** The sort and filters of the address (#/?sort=-best&q=...), else the ones last used. */
function listSettings(query) {
  let params = new URLSearchParams(query || "");
  if (!query) {
    try { params = new URLSearchParams(localStorage.getItem(LIST_KEY) || ""); } catch (e) { /* storage off */ }
  }
  const raw = params.get("sort") || "created";
  const desc = raw.startsWith("-");
  const key = desc ? raw.slice(1) : raw;
  const settings = { sort: { key: LIST_COLUMNS.some((c) => c.key === key) ? key : "created", desc }, filters: {} };
  for (const f of LIST_FILTERS) settings.filters[f.key] = params.get(f.key) || "";
  return settings;
}

function listQuery(settings) {
  const params = new URLSearchParams();
  if (settings.sort.key !== "created" || settings.sort.desc) params.set("sort", (settings.sort.desc ? "-" : "") + settings.sort.key);
  for (const f of LIST_FILTERS) if (settings.filters[f.key]) params.set(f.key, settings.filters[f.key]);
  return params.toString();
}

/** Keep the settings in the address (without a navigation) and for the next visit. */
function rememberList(settings) {
  const query = listQuery(settings);
  history.replaceState(null, "", location.pathname + location.search + (query ? "#/?" + query : "#/"));
  try { localStorage.setItem(LIST_KEY, query); } catch (e) { /* storage off */ }
}

function isListHash() {
  const hash = location.hash;
  return hash === "" || hash === "#/" || hash.startsWith("#/?");
}

async function showList(query) {
  const state = { settings: listSettings(query), rows: new Map() };
  view = state;
  let experiments;
  try { experiments = await api("/api/experiments"); } catch (err) { return failView(err); }
  if (view !== state) return;
  state.experiments = setExperimentRefs(experiments);
  state.text = JSON.stringify(experiments);
  if (experiments.length === 0) {
    main.replaceChildren(el("div", { class: "card" }, el("h1", {}, "Experiments"),
      el("p", { class: "muted" }, "No experiments yet: run one with `tunery run FILE`, or ", el("a", { href: "#/create" }, "create one"), ".")));
    setReady("list");
    return;
  }
  const s = state.settings;
  state.nodes = {
    table: el("table", { id: "experiments" }),
    tbody: el("tbody"),
    count: el("span", { class: "muted", id: "experiment-count" }),
    status: el("select", { id: "list-status", title: "status", onchange: (ev) => { s.filters.status = ev.target.value; renderList(state); } }),
    query: el("input", { id: "list-filter", type: "search", size: 24, placeholder: "filter by name", value: s.filters.q,
      oninput: (ev) => { s.filters.q = ev.target.value; renderList(state); } }),
  };
  const n = state.nodes;
  main.replaceChildren(el("div", { class: "card" },
    el("div", { class: "toolbar" }, el("h1", {}, "Experiments"), el("span", { style: "flex:1" }), n.query, n.status, n.count),
    el("div", { class: "table-wrap" }, n.table)));
  buildListRows(state);
  setReady("list");
  scheduleListPoll(state);
}

/** One row per experiment (kept between renders), and the status choices with their counts. */
function buildListRows(state) {
  state.rows = new Map(state.experiments.map((e) => [e.ref, el("tr", { dataset: { name: e.name } }, LIST_COLUMNS.map((c) => c.cell(e)))]));
  const counts = {};
  for (const e of state.experiments) counts[e.status] = (counts[e.status] || 0) + 1;
  const chosen = state.settings.filters.status;
  const statuses = EXPERIMENT_STATUSES.concat(Object.keys(counts).filter((k) => !EXPERIMENT_STATUSES.includes(k)));
  state.nodes.status.replaceChildren(el("option", { value: "" }, `any status (${state.experiments.length})`),
    ...statuses.map((st) => el("option", { value: st, selected: st === chosen }, `${st} (${counts[st] || 0})`)));
  state.nodes.status.value = chosen;
  renderList(state);
}

/** Sort and filter the rows into the table; the headers show the sort and toggle it. */
function renderList(state) {
  const s = state.settings;
  const column = LIST_COLUMNS.find((c) => c.key === s.sort.key);
  const active = LIST_FILTERS.filter((f) => s.filters[f.key]);
  const shown = state.experiments.filter((e) => active.every((f) => f.test(e, s.filters[f.key])));
  shown.sort((a, b) => compareNullable(column.value(a), column.value(b), s.sort.desc) || compareNullable(a.createdTime, b.createdTime, false) || a.name.localeCompare(b.name) || a.namespace.localeCompare(b.namespace));
  const head = el("tr", {}, LIST_COLUMNS.map((c) => el("th", {
    class: "sortable" + (c.key === s.sort.key ? (s.sort.desc ? " sorted-desc" : " sorted-asc") : ""),
    dataset: { key: c.key },
    title: "sort by " + c.label,
    "aria-sort": c.key === s.sort.key ? (s.sort.desc ? "descending" : "ascending") : null,
    tabindex: 0,
    onclick: () => sortListBy(state, c.key),
    onkeydown: (ev) => { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); sortListBy(state, c.key); } },
  }, c.label)));
  const rows = shown.map((e) => state.rows.get(e.ref));
  const n = state.nodes;
  n.table.replaceChildren(el("thead", {}, head), n.tbody);
  n.tbody.replaceChildren(...(rows.length ? rows : [el("tr", { class: "empty" }, el("td", { colspan: LIST_COLUMNS.length, class: "muted" }, "No experiment matches the filter."))]));
  n.count.textContent = `${shown.length} of ${state.experiments.length} experiments`;
  rememberList(s);
}

/** Sort by the column `key`; again by the same column reverses the order.  The header keeps
 * the keyboard focus (Enter or Space sorts). */
function sortListBy(state, key) {
  const s = state.settings;
  const focused = document.activeElement && document.activeElement.matches("#experiments th");
  s.sort = { key, desc: s.sort.key === key ? !s.sort.desc : false };
  renderList(state);
  if (focused) state.nodes.table.querySelector(`th[data-key="${key}"]`).focus();
}

function scheduleListPoll(state) {
  clearTimeout(pollTimer);
  if (!state.experiments.some((e) => !ENDED.includes(e.status))) return;
  pollTimer = setTimeout(async () => {
    if (view !== state || !isListHash()) return;
    try {
      const experiments = await api("/api/experiments");
      if (view !== state) return;
      // Rows are built again only when something changed (a long list stays calm while polled).
      const text = JSON.stringify(experiments);
      if (text !== state.text) {
        state.text = text;
        state.experiments = setExperimentRefs(experiments);
        buildListRows(state);
      }
    } catch (err) {
      if (view !== state) return;
      notice("update failed: " + err.message, true);
    }
    scheduleListPoll(state);
  }, POLL_MS * 2);
}

// ------------------------------------------------------------------ delete

/** The experiment page's Delete button: a dialog naming the experiment asks first. */
function deleteButton(state) {
  return el("button", { type: "button", class: "danger", id: "delete-experiment", onclick: () => deleteDialog(state.exp) }, "Delete…");
}

/** Confirm, then DELETE /api/experiments/{name} (with ?force=true when asked to stop it first);
 * on success the list is shown again, without it. */
function deleteDialog(exp) {
  const running = !ENDED.includes(exp.status) && (exp.trials.running > 0 || ["Running", "Restarting"].includes(exp.status));
  const tokenInput = token() ? null : el("input", { id: "delete-token", type: "password", size: 28, autocomplete: "off", placeholder: "the token tunery ui printed" });
  const force = el("input", { id: "delete-force", type: "checkbox", checked: running });
  const forceRow = el("label", { class: "delete-force", hidden: !running }, force,
    " Stop it first (its running trials are killed), then delete it");
  const error = el("p", { id: "delete-error", class: "error", role: "alert", hidden: true });
  const confirm = el("button", { type: "submit", class: "danger", id: "delete-confirm" }, "Delete experiment");
  const cancel = el("button", { type: "button", id: "delete-cancel", onclick: () => dialog.close() }, "Cancel");
  const c = exp.trials;
  const form = el("form", {},
    el("h2", {}, "Delete experiment ", el("code", { id: "delete-name" }, exp.name), "?"),
    el("p", {}, `Its ${c.total} trial${c.total === 1 ? "" : "s"}, their metrics and the algorithm's state are deleted from the database, for good. ` +
      "Trial directories and their output stay on disk."),
    forceRow,
    tokenInput ? el("p", {}, el("label", { for: "delete-token" }, "Token "), tokenInput) : null,
    error,
    el("div", { class: "toolbar" }, el("span", { style: "flex:1" }), cancel, confirm));
  const dialog = el("dialog", { id: "delete-dialog", "aria-labelledby": "delete-name" }, form);
  dialog.addEventListener("close", () => dialog.remove());
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (tokenInput) {
      if (!tokenInput.value) { error.textContent = "The token is needed: paste the one `tunery ui` printed."; error.hidden = false; return; }
      sessionStorage.setItem(TOKEN_KEY, tokenInput.value);
      showTokenState();
    }
    confirm.disabled = true;
    confirm.textContent = force.checked ? "Stopping and deleting…" : "Deleting…";
    try {
      const path = "/api/experiments/" + enc(exp.ref || exp.name) + (force.checked ? "?force=true" : "");
      const done = await api(path, { method: "DELETE", write: true });
      dialog.close();
      notice(`deleted experiment ${done.name}` + (done.stopped ? " (stopped first)" : "") + (done.runsDir ? `; its trial directories stay under ${done.runsDir}` : ""));
      if (isListHash()) route(); else location.hash = "#/";
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
      if (err.status === 409) forceRow.hidden = false;
      if (err.status === 401 && tokenInput) sessionStorage.removeItem(TOKEN_KEY);
      showTokenState();
      confirm.disabled = false;
      confirm.textContent = "Delete experiment";
    }
  });
  document.body.append(dialog);
  dialog.showModal();
  (tokenInput || cancel).focus();
}
