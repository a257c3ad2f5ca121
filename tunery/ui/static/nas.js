/* tunery UI: string-valued objectives and NAS architectures (see docs/nas.md).
 *
 * - A trial whose objective is a string (Katib's Best-Genotype) has `objectiveText` (the trial
 *   detail) or its objective metric's summary has `text` (the trial table's columns); tables
 *   show it elided, with the whole text as the cell's title.
 * - The best trial when objective values are strings is Katib's: the latest trial (highest
 *   index, Succeeded or EarlyStopped) with one, before any number (tunery.model.best_trial).
 * - The trial page draws `architecture` (GET /api/experiments/{name}/trials/{trial}): the
 *   lines of tunery.nas.render (as `tunery best` prints them) and, for a DARTS genotype, one
 *   small SVG per cell: the inputs c[k-2] and c[k-1], each intermediate node with its incoming
 *   edges labelled by their operation, and the output joining the concatenated nodes.
 *
 * Every string reaches the page through textContent (el() of app.js, svg() of charts.js).
 */
"use strict";

const Nas = (() => {
  const { svg } = Charts.kit;
  const WIDTH = 48;

  /** `text` on one line, cut to `width` characters with an ellipsis. */
  function elide(text, width = WIDTH) {
    const flat = String(text).split(/\s+/).filter(Boolean).join(" ");
    return flat.length <= width ? flat : flat.slice(0, Math.max(0, width - 1)) + "\u2026";
  }

  /** The trial's objective when it is a string, else null. */
  function objectiveText(exp, t) {
    if (typeof t.objectiveText === "string") return t.objectiveText;
    if (typeof t.objective === "number") return null;
    const m = (t.metrics || {})[exp.objective.objectiveMetricName];
    return m && typeof m.text === "string" ? m.text : null;
  }

  /** Katib's best trial among string objectives: the latest with one (null: none). */
  function bestName(exp, trials) {
    let best = null;
    for (const t of trials) {
      if (t.status !== "Succeeded" && t.status !== "EarlyStopped") continue;
      if (objectiveText(exp, t) === null) continue;
      if (best === null || t.index > best.index) best = t;
    }
    return best ? best.name : null;
  }

  /** A metric summary's latest value: the number, else the string. */
  function latest(m) {
    if (!m) return null;
    return m.latest !== null && m.latest !== undefined ? m.latest : (typeof m.text === "string" ? m.text : null);
  }

  // ---------------------------------------------------------------- a DARTS cell

  function nodeName(i) { return i === 0 ? "c[k-2]" : i === 1 ? "c[k-1]" : String(i); }

  /** One cell as an SVG: inputs left, intermediate nodes in columns, the output right. Each
   * edge is a quadratic curve from its source's centre to its node's (one that spans columns
   * rounds the side of the band the nodes between leave free), labelled at its middle. */
  function cellSvg(kind, cell) {
    const nodes = cell.nodes || [];
    const colW = 170;
    const R = 22;
    const height = 230;
    const width = colW * (nodes.length + 1) + 2 * R + 30;
    const column = (i) => (i < 2 ? 0 : i - 1);
    const pos = new Map();
    pos.set(0, { x: R + 10, y: 50 });
    pos.set(1, { x: R + 10, y: height - 50 });
    nodes.forEach((_, j) => pos.set(j + 2, { x: R + 10 + colW * (j + 1), y: height / 2 + (j % 2 ? 38 : -38) }));
    const out = { x: R + 10 + colW * (nodes.length + 1), y: height / 2 };
    const edges = [];
    const labels = [];
    nodes.forEach((incoming, j) => {
      const to = pos.get(j + 2);
      incoming.forEach((edge, k) => {
        const from = pos.get(edge.from) || pos.get(0);
        const span = column(j + 2) - column(edge.from);
        const cx = (from.x + to.x) / 2;
        let cy = (from.y + to.y) / 2 + (k % 2 ? 14 : -14);
        if (span > 1) {
          // Past the nodes between: round the side of the band they leave free.
          const between = [];
          for (let i = edge.from + 1; i < j + 2; i++) if (i >= 2) between.push(pos.get(i).y);
          const mean = between.reduce((a, b) => a + b, 0) / Math.max(1, between.length);
          cy = mean < height / 2 ? height + 20 : -20;
        }
        // The curve's middle (t = 1/2), where its operation is written.
        const mx = (from.x + 2 * cx + to.x) / 4;
        const my = (from.y + 2 * cy + to.y) / 4;
        edges.push(svg("path", { d: `M${from.x},${from.y} Q${cx},${cy} ${to.x},${to.y}`, class: "nas-edge", fill: "none", stroke: "#2f6fd0", "stroke-width": 1.5 }));
        labels.push(svg("text", { x: mx, y: my + 3, "text-anchor": "middle", class: "nas-op", "font-size": 10 }, edge.op));
      });
    });
    for (const i of cell.concat || []) {
      const from = pos.get(i);
      if (from) edges.push(svg("path", { d: `M${from.x},${from.y} L${out.x},${out.y}`, class: "nas-concat", fill: "none", stroke: "#868e96", "stroke-dasharray": "4 3" }));
    }
    const circle = (p, label, cls) => svg("g", { class: cls },
      svg("circle", { cx: p.x, cy: p.y, r: R, fill: "#fff", stroke: "#333" }),
      svg("text", { x: p.x, y: p.y + 4, "text-anchor": "middle", "font-size": 11 }, label));
    const circles = [...pos.entries()].map(([i, p]) => circle(p, nodeName(i), i < 2 ? "nas-input" : "nas-node"));
    circles.push(circle(out, "c[k]", "nas-output"));
    return svg("svg", { class: "nas-cell", "data-cell": kind, width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": `${kind} cell` },
      svg("title", {}, `${kind} cell`), ...edges, ...circles, ...labels);
  }

  /** The trial page's architecture card: its lines, and each DARTS cell drawn. */
  function card(el, arch) {
    const parts = [el("h2", {}, arch.kind === "darts" ? "Architecture (DARTS genotype)" : "Architecture (ENAS layers)"),
      el("pre", { id: "trial-architecture" }, arch.lines.join("\n"))];
    if (arch.kind === "darts" && arch.cells) {
      for (const kind of ["normal", "reduce"]) {
        if (arch.cells[kind]) parts.push(el("div", { class: "nas-drawing" }, el("b", {}, `${kind} cell`), cellSvg(kind, arch.cells[kind])));
      }
    }
    return el("div", { class: "card", id: "trial-architecture-card" }, ...parts);
  }

  return { elide, objectiveText, bestName, latest, card, cellSvg };
})();
