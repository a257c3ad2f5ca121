/* tunery UI: the cards of multi-objective and constrained experiments (see docs/ui.md).
 *
 * The experiment page asks GET /api/experiments/{name}/pareto (tunery.plots.pareto_data: the
 * same front, feasibility and hypervolume as `tunery best` and `tunery get`) when the
 * experiment has several objectives or any constraint, and draws:
 *
 * - the Pareto front: 2 objectives as one scatter (the front red and joined by its step
 *   line), 3 or 4 as a pairwise scatter matrix (the front red in every panel); infeasible
 *   trials are grey crosses; every axis names its objective and its direction; click a point
 *   to open its trial;
 * - the hypervolume of the feasible front after each finished trial, against the stated
 *   reference point;
 * - the marks of the table ("front", "infeasible") and the objectives' axes of the parallel
 *   coordinates (through paretoMark / objectiveAxes, called by app.js).
 *
 * Every string reaches the page through textContent (the charts' svg() and app.js' el()).
 */
"use strict";

const Pareto = (() => {
  const { Chart, svg, extent, niceTicks, fmtTick, frame2d, pointerTips } = Charts.kit;
  const COLOURS = { front: "#d1495b", feasible: "#2f6fd0", infeasible: "#868e96" };
  const LABELS = { front: "Pareto front", feasible: "dominated", infeasible: "infeasible (violates a constraint)" };

  function isMulti(exp) { return Array.isArray(exp.objectives) && exp.objectives.length > 1; }
  function hasConstraints(exp) { return Array.isArray(exp.constraints) && exp.constraints.length > 0; }
  /** Whether the experiment page shows the cards of this file. */
  function applies(exp) { return isMulti(exp) || hasConstraints(exp); }

  /** An objective's axis title: its metric and direction. */
  function axisLabel(o) { return `${o.metric} (${o.direction === "maximize" ? "maximize \u2191" : "minimize \u2193"})`; }

  function constraintText(c) {
    if (c.min !== null && c.min !== undefined && c.max !== null && c.max !== undefined) return `${fmtTick(c.min)} \u2264 ${c.metric} \u2264 ${fmtTick(c.max)}`;
    if (c.max !== null && c.max !== undefined) return `${c.metric} \u2264 ${fmtTick(c.max)}`;
    return `${c.metric} \u2265 ${fmtTick(c.min)}`;
  }

  // ---------------------------------------------------------------- the scatter

  /**
   * One pair of objectives: x, y (numbers), names, kind ("front" | "feasible" |
   * "infeasible" per point), xLabel, yLabel, xSign, ySign (+1: minimized, -1: maximized; the
   * step line's corners follow from them), line (whether to join the front), legend,
   * onClick(i).  Dominated feasible trials are blue dots, infeasible ones grey crosses (both
   * on the canvas), the front red dots in SVG (class front-point, data-trial) on top.
   */
  class Front extends Chart {
    constructor(div, options) {
      super(div);
      this.options = options;
      const small = options.small;
      const m = this.margin = { l: small ? 58 : 70, r: 14, t: options.legend ? 30 : 12, b: small ? 38 : 42 };
      this.plotW = this.width - m.l - m.r;
      this.plotH = this.height - m.t - m.b;
      const pad = ([lo, hi]) => { const p = (hi - lo) * 0.05; return [lo - p, hi + p]; };
      this.xr = pad(extent(options.x));
      this.yr = pad(extent(options.y));
      this.drawOverlay();
      this.render();
      const { x, y, names, kind } = options;
      pointerTips(this, (mx, my) => {
        let best = -1;
        let dist = 64;
        for (let i = 0; i < x.length; i++) {
          const dx = this.px(x[i]) - mx;
          const dy = this.py(y[i]) - my;
          if (dx * dx + dy * dy < dist) { dist = dx * dx + dy * dy; best = i; }
        }
        return [best, best < 0 ? "" : `${names[best]} (${LABELS[kind[best]]}): ${fmtTick(x[best])}, ${fmtTick(y[best])}`];
      }, options.onClick);
    }

    px(v) { return this.margin.l + ((v - this.xr[0]) / (this.xr[1] - this.xr[0])) * this.plotW; }
    py(v) { return this.margin.t + (1 - (v - this.yr[0]) / (this.yr[1] - this.yr[0])) * this.plotH; }

    /** The front's points in step-line order (by x, best x first). */
    frontOrder() {
      const { x, y, kind, xSign, ySign } = this.options;
      const idx = [];
      for (let i = 0; i < x.length; i++) if (kind[i] === "front") idx.push(i);
      return idx.sort((a, b) => xSign * x[a] - xSign * x[b] || ySign * y[a] - ySign * y[b]);
    }

    render() {
      const ctx = this.ctx;
      const { x, y, kind } = this.options;
      const n = x.length;
      const r = n > 2000 ? 1.6 : 2.8;
      return this.frames([() => {
        ctx.clearRect(0, 0, this.width, this.height);
        ctx.fillStyle = "rgba(47,111,208,0.55)";
        ctx.beginPath();
        for (let i = 0; i < n; i++) {
          if (kind[i] !== "feasible") continue;
          const cx = this.px(x[i]);
          const cy = this.py(y[i]);
          ctx.moveTo(cx + r, cy);
          ctx.arc(cx, cy, r, 0, 2 * Math.PI);
        }
        ctx.fill();
        ctx.strokeStyle = COLOURS.infeasible;
        ctx.lineWidth = 1.4;
        ctx.beginPath();
        for (let i = 0; i < n; i++) {
          if (kind[i] !== "infeasible") continue;
          const cx = this.px(x[i]);
          const cy = this.py(y[i]);
          ctx.moveTo(cx - 3, cy - 3); ctx.lineTo(cx + 3, cy + 3);
          ctx.moveTo(cx - 3, cy + 3); ctx.lineTo(cx + 3, cy - 3);
        }
        ctx.stroke();
      }]);
    }

    drawOverlay() {
      const { x, y, kind, names, xLabel, yLabel } = this.options;
      const m = this.margin;
      const g = svg("g", { class: "axes", fill: "#1d232b" });
      const ticks = ([lo, hi]) => niceTicks(lo, hi, this.options.small ? 4 : 6).filter((v) => v >= lo && v <= hi).map((v) => [v, fmtTick(v)]);
      frame2d(g, {
        m, plotW: this.plotW, plotH: this.plotH, width: this.width, height: this.height,
        px: (v) => this.px(v), py: (v) => this.py(v), xTicks: ticks(this.xr), yTicks: ticks(this.yr), xLabel, yLabel,
      });
      const order = this.frontOrder();
      if (this.options.line && order.length > 1) {
        let d = "";
        order.forEach((i, k) => {
          const px = this.px(x[i]).toFixed(1);
          const py = this.py(y[i]).toFixed(1);
          d += k === 0 ? `M${px},${py}` : `H${px}V${py}`;
        });
        g.append(svg("path", { class: "front-line", d, fill: "none", stroke: COLOURS.front, "stroke-width": 1.5 }));
      }
      for (const i of order) {
        g.append(svg("circle", { class: "front-point", "data-trial": names[i], cx: this.px(x[i]).toFixed(1), cy: this.py(y[i]).toFixed(1), r: 4.5, fill: COLOURS.front, stroke: "#fff", "stroke-width": 1 }));
      }
      if (this.options.legend) {
        let lx = m.l;
        for (const key of ["front", "feasible", "infeasible"]) {
          if (!kind.includes(key)) continue;
          const item = svg("g", { class: "legend", "data-kind": key });
          if (key === "infeasible") item.append(svg("path", { d: `M${lx - 3},${9}l6,6m0,-6l-6,6`, stroke: COLOURS.infeasible, "stroke-width": 1.6 }));
          else item.append(svg("circle", { cx: lx, cy: 12, r: key === "front" ? 4.5 : 3, fill: COLOURS[key] }));
          item.append(svg("text", { x: lx + 9, y: 16, "font-size": 11 }, LABELS[key] + (key === "front" && this.options.line ? " (joined by its step line)" : "")));
          g.append(item);
          lx += 30 + (LABELS[key].length + (key === "front" && this.options.line ? 26 : 0)) * 6.1;
        }
      }
      this.overlay.replaceChildren(g);
    }
  }

  // ---------------------------------------------------------------- the cards

  function build(state, el, downloadButtons) {
    const exp = state.exp;
    const n = state.nodes;
    const file = exp.name;
    n.pareto = el("div", { id: "pareto", class: "plot" });
    n.paretoNote = el("p", { class: "muted", id: "pareto-note" });
    n.hypervolume = el("div", { id: "hypervolume", class: "plot small" });
    n.hypervolumeNote = el("p", { class: "muted", id: "hypervolume-note" });
    const cards = [];
    if (isMulti(exp)) {
      cards.push(el("div", { class: "card", id: "pareto-card" },
        el("div", { class: "toolbar" }, el("h2", {}, "Pareto front"), el("span", { class: "muted" }, "click a point to open its trial"),
          downloadButtons(n.pareto, file + "-pareto", () => panels(state))),
        n.pareto, n.paretoNote));
      cards.push(el("div", { class: "card", id: "hypervolume-card" },
        el("div", { class: "toolbar" }, el("h2", {}, "Hypervolume history"), downloadButtons(n.hypervolume, file + "-hypervolume", () => state.charts.hypervolume)),
        n.hypervolume, n.hypervolumeNote));
    } else {
      n.pareto = null;
      cards.push(el("div", { class: "card", id: "constraints-card" }, el("h2", {}, "Constraints"), n.paretoNote));
    }
    return cards;
  }

  /** What the download buttons save: the one chart, or each panel of the matrix (-1, -2, ...). */
  function panels(state) {
    const charts = state.charts.pareto || [];
    if (charts.length <= 1) return charts[0] || null;
    return { download: (format, filename) => Promise.all(charts.map((c, i) => c.download(format, `${filename}-${i + 1}`))) };
  }

  /** GET .../pareto, then the cards, the table's marks and the parallel coordinates. */
  async function load(state, api, enc, after) {
    if (state.paretoLoading) { state.paretoAgain = true; return; }
    state.paretoLoading = true;
    try {
      const data = await api("/api/experiments/" + enc(state.name) + "/pareto");
      if (view !== state) return;
      state.pareto = data;
      state.paretoMarks = new Map();
      // One objective: only the infeasible trials are marked (the best row is highlighted).
      const multi = isMulti(state.exp);
      for (const t of data.trials) state.paretoMarks.set(t.name, multi && t.front ? "front" : t.feasible ? "" : "infeasible");
      state.paretoValues = new Map(data.trials.map((t) => [t.name, t.values]));
      draw(state);
      if (after) after();
    } catch (err) {
      if (view === state) notice("Pareto front: " + err.message, true);
    } finally {
      state.paretoLoading = false;
      if (state.paretoAgain && view === state) { state.paretoAgain = false; load(state, api, enc, after); }
    }
  }

  function openTrial(state, name) { location.hash = `#/experiments/${encodeURIComponent(state.exp.ref)}/trials/${encodeURIComponent(name)}`; }

  function draw(state) {
    const data = state.pareto;
    const n = state.nodes;
    const objectives = data.objectives;
    const infeasible = data.trials.filter((t) => !t.feasible).length;
    const constraints = data.constraints.map(constraintText).join("; ");
    if (!n.pareto) {
      n.paretoNote.textContent = `${constraints}. ${infeasible} of ${data.trials.length} finished trials violate a constraint ` +
        "(marked infeasible in the table; never chosen as best).";
      document.body.dataset.pareto = "drawn";
      return;
    }
    const trials = data.trials;
    state.charts.pareto = [];
    if (trials.length === 0) {
      n.pareto.classList.remove("chart");
      n.pareto.replaceChildren(document.createTextNode("No finished trial has reported every objective yet."));
      n.paretoNote.textContent = "";
    } else {
      const kind = trials.map((t) => (t.front ? "front" : t.feasible ? "feasible" : "infeasible"));
      const names = trials.map((t) => t.name);
      const sign = (o) => (o.direction === "maximize" ? -1 : 1);
      if (objectives.length === 2) {
        n.pareto.classList.remove("matrix");
        state.charts.pareto.push(new Front(n.pareto, {
          x: trials.map((t) => t.values[0]), y: trials.map((t) => t.values[1]), names, kind,
          xLabel: axisLabel(objectives[0]), yLabel: axisLabel(objectives[1]), xSign: sign(objectives[0]), ySign: sign(objectives[1]),
          line: true, legend: true, onClick: (i) => openTrial(state, names[i]),
        }));
      } else {
        // A lower-triangular matrix: row r plots objective r + 1 against each objective before it.
        const k = objectives.length;
        n.pareto.classList.remove("chart");
        n.pareto.classList.add("matrix");
        n.pareto.style.gridTemplateColumns = `repeat(${k - 1}, 1fr)`;
        const cells = [];
        for (let r = 1; r < k; r++) {
          for (let c = 0; c < k - 1; c++) {
            const cell = document.createElement("div");
            cell.className = c < r ? "pareto-cell" : "pareto-cell empty";
            cells.push([cell, r, c]);
          }
        }
        n.pareto.replaceChildren(...cells.map(([cell]) => cell));
        for (const [cell, r, c] of cells) {
          if (c >= r) continue;
          cell.dataset.pair = `${objectives[c].metric} \u00d7 ${objectives[r].metric}`;
          state.charts.pareto.push(new Front(cell, {
            x: trials.map((t) => t.values[c]), y: trials.map((t) => t.values[r]), names, kind,
            xLabel: axisLabel(objectives[c]), yLabel: axisLabel(objectives[r]), xSign: sign(objectives[c]), ySign: sign(objectives[r]),
            line: false, legend: r === 1, small: true, onClick: (i) => openTrial(state, names[i]),
          }));
        }
      }
      const front = trials.filter((t) => t.front).length;
      n.paretoNote.textContent = `${front} of ${trials.length} finished trials on the Pareto front (feasible, no other feasible trial at least as good on every objective and better on one)` +
        (objectives.length > 2 ? "; each panel a pair of objectives, the front of all of them in red." : ".") +
        (constraints ? ` Constraints: ${constraints}; ${infeasible} infeasible.` : "");
    }
    drawHypervolume(state);
    Promise.all(state.charts.pareto.map((c) => c.drawn)).then(() => { if (view === state) document.body.dataset.pareto = "drawn"; });
  }

  function drawHypervolume(state) {
    const data = state.pareto;
    const n = state.nodes;
    state.charts.hypervolume = null;
    const ref = data.referencePoint;
    const refText = ref ? data.objectives.map((o, k) => `${o.metric} ${fmtTick(ref[k])}`).join(", ") : "";
    n.hypervolumeNote.textContent = ref
      ? `Hypervolume dominated by the feasible front after each finished trial, against the reference point ${refText} ` +
        (data.referenceStated ? "(stated in the experiment's spec)." :
          "(each objective's worst value on the final front, moved 10% of the front's range further; fixed for the whole history).")
      : "No feasible trial yet: no reference point, no hypervolume.";
    const h = data.history;
    if (!h.length) {
      n.hypervolume.classList.remove("chart");
      n.hypervolume.replaceChildren(document.createTextNode("No feasible trial yet."));
      return;
    }
    state.charts.hypervolume = Charts.history(n.hypervolume, {
      x: h.map((p) => p.index), y: h.map((p) => p.hypervolume), names: h.map((p) => p.trial),
      line: { x: h.map((p) => p.index), y: h.map((p) => p.hypervolume) }, lineLabel: "hypervolume so far",
      xLabel: "trial index", xInteger: true, yLabel: "hypervolume",
      onClick: (i) => openTrial(state, h[i].trial),
    });
  }

  /** The table's mark of a trial: "front", "infeasible" or null. */
  function mark(state, t) {
    if (!state || !state.paretoMarks) return null;
    return state.paretoMarks.get(t.name) || null;
  }

  /** One parallel-coordinates axis per objective (values of `done`, NaN where missing) and
   * the colour (the first objective's values), or null when the data has not arrived. */
  function objectiveAxes(state, done) {
    const data = state.pareto;
    if (!data || !isMulti(state.exp)) return null;
    const values = state.paretoValues;
    const axes = data.objectives.map((o, k) => ({
      label: axisLabel(o),
      values: done.map((t) => { const v = values.get(t.name); return v ? v[k] : NaN; }),
    }));
    return { axes, color: axes[0].values, colorLabel: data.objectives[0].metric, bestHigh: data.objectives[0].direction === "maximize" };
  }

  return { applies, isMulti, build, load, mark, objectiveAxes, axisLabel, Front };
})();
