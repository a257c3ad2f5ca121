/* tunery UI: the experiment page's graphs, drawn with the 2D canvas and SVG.
 *
 * plotly's parallel coordinates and scattergl need WebGL; without a GPU (headless browsers,
 * remote desktops, many laptops' power-saving modes) WebGL runs in software and plotly's
 * parallel coordinates took seconds per draw at 1,000 lines.  These draw 10,000 trials in a
 * few frames without blocking the page: dense marks go to a canvas in chunks, one animation
 * frame each; axes, labels and brushes are SVG on top.  Every string reaches the page through
 * textContent.  Each chart downloads as PNG or SVG.
 */
"use strict";

const Charts = (() => {
  const SVG_NS = "http://www.w3.org/2000/svg";
  const FONT = '12px system-ui, -apple-system, "Segoe UI", sans-serif';
  // plotly's Viridis.
  const VIRIDIS = ["#440154", "#48186a", "#472d7b", "#424086", "#3b528b", "#33638d", "#2c728e", "#26828e",
    "#21918c", "#1fa088", "#28ae80", "#3fbc73", "#5ec962", "#84d44b", "#addc30", "#d8e219", "#fde725"];
  const BUCKETS = 32;
  /** Lines drawn per animation frame. */
  const CHUNK = 2500;

  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value !== null && value !== undefined) node.setAttribute(key, String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function hexToRgb(hex) {
    const n = parseInt(hex.slice(1), 16);
    return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
  }

  /** The Viridis colour at t in [0, 1]. */
  function viridis(t) {
    const x = Math.min(1, Math.max(0, t)) * (VIRIDIS.length - 1);
    const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
    const a = hexToRgb(VIRIDIS[i]);
    const b = hexToRgb(VIRIDIS[i + 1]);
    const f = x - i;
    return `rgb(${a.map((v, k) => Math.round(v + (b[k] - v) * f)).join(",")})`;
  }

  function fmtTick(v) {
    if (v === 0) return "0";
    const a = Math.abs(v);
    if (a >= 1e5 || a < 1e-3) return v.toExponential(1).replace("e+", "e").replace(".0e", "e");
    return String(+v.toPrecision(4));
  }

  /** About `count` round numbers between lo and hi; whole numbers only when `integer`. */
  function niceTicks(lo, hi, count, integer) {
    if (!(hi > lo)) return integer && !Number.isInteger(lo) ? [] : [lo];
    const raw = (hi - lo) / count;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const err = raw / mag;
    let step = (err >= 7.5 ? 10 : err >= 3.5 ? 5 : err >= 1.5 ? 2 : 1) * mag;
    if (integer) step = Math.max(1, Math.round(step));
    const out = [];
    for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toPrecision(12));
    return out;
  }

  function extent(values) {
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of values) {
      if (Number.isFinite(v)) { if (v < lo) lo = v; if (v > hi) hi = v; }
    }
    if (lo === Infinity) return [0, 1];
    if (lo === hi) { const pad = Math.abs(lo) * 0.05 || 0.5; return [lo - pad, hi + pad]; }
    return [lo, hi];
  }

  /** A canvas sized for the device's pixels, and its 2D context in CSS pixels. */
  function makeCanvas(width, height) {
    const canvas = document.createElement("canvas");
    const ratio = window.devicePixelRatio || 1;
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    canvas.style.width = width + "px";
    canvas.style.height = height + "px";
    const ctx = canvas.getContext("2d");
    ctx.scale(ratio, ratio);
    return { canvas, ctx };
  }

  /** Base of every chart: a box with a canvas under an SVG overlay, and downloads. */
  class Chart {
    constructor(div, height) {
      this.div = div;
      div.replaceChildren();
      div.classList.add("chart");
      div.tuneryChart = this; // for tests and the console: the data behind what is drawn
      this.width = Math.max(320, Math.floor(div.clientWidth || 600));
      this.height = height || Math.max(200, Math.floor(div.clientHeight || 400));
      const { canvas, ctx } = makeCanvas(this.width, this.height);
      this.canvas = canvas;
      this.ctx = ctx;
      this.overlay = svg("svg", { width: this.width, height: this.height, class: "overlay", "font-family": "system-ui, sans-serif", "font-size": 12 });
      div.append(canvas, this.overlay);
      this.generation = 0;
      this.drawn = Promise.resolve();
    }

    /** Run the steps one animation frame each; a newer draw abandons this one. */
    frames(steps) {
      const generation = ++this.generation;
      this.drawn = new Promise((resolve) => {
        let i = 0;
        const next = () => {
          if (generation !== this.generation) return resolve(false);
          if (i >= steps.length) return resolve(true);
          steps[i++]();
          requestAnimationFrame(next);
        };
        next();
      });
      return this.drawn;
    }

    /** The chart as a standalone SVG document (the canvas embedded as a PNG image). */
    svgText() {
      const root = svg("svg", { xmlns: SVG_NS, width: this.width, height: this.height, viewBox: `0 0 ${this.width} ${this.height}`, "font-family": "system-ui, sans-serif", "font-size": 12 });
      root.append(svg("rect", { x: 0, y: 0, width: this.width, height: this.height, fill: "#fff" }));
      root.append(svg("image", { x: 0, y: 0, width: this.width, height: this.height, href: this.canvas.toDataURL("image/png") }));
      for (const child of this.overlay.childNodes) root.append(child.cloneNode(true));
      return new XMLSerializer().serializeToString(root);
    }

    async download(format, filename) {
      const text = this.svgText();
      let blob = new Blob([text], { type: "image/svg+xml" });
      if (format === "png") {
        const url = URL.createObjectURL(blob);
        try {
          const image = new Image();
          await new Promise((resolve, reject) => { image.onload = resolve; image.onerror = reject; image.src = url; });
          const { canvas, ctx } = makeCanvas(this.width, this.height);
          ctx.drawImage(image, 0, 0, this.width, this.height);
          blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
        } finally {
          URL.revokeObjectURL(url);
        }
      }
      const link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = `${filename}.${format}`;
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
    }
  }

  // ---------------------------------------------------------------- parallel coordinates

  /**
   * dims: [{label, values: number[] (NaN: missing), tickvals?, ticktext?, log?, integer?}]
   * (log: values are log10 of the parameter, ticks show the parameter; integer: whole ticks)
   * color: number[] (the objective), bestHigh: whether high values are good.  Lines and the
   * colour bar share one mapping: the better a trial, the nearer its colour to Viridis' yellow
   * end (the "better" end of the bar, labelled so), whichever the objective's direction;
   * colorLabel, best: index of the best trial or -1, brushes: {label: [lo, hi]} to restore,
   * onBrush(mask or null, brushes).
   */
  class Parcoords extends Chart {
    constructor(div, options) {
      super(div, 420);
      this.options = options;
      this.margin = { l: 64, r: 110, t: 42, b: 26 };
      this.brushes = Object.assign({}, options.brushes || {});
      this.prepare();
      this.drawOverlay();
      this.render();
    }

    prepare() {
      const { dims, color } = this.options;
      const n = color.length;
      const m = this.margin;
      this.n = n;
      this.plotH = this.height - m.t - m.b;
      const span = this.width - m.l - m.r;
      this.xs = dims.map((_, d) => m.l + (dims.length === 1 ? span / 2 : (span * d) / (dims.length - 1)));
      this.ranges = dims.map((dim) => dim.ticktext ? [-0.5, dim.ticktext.length - 0.5] : extent(dim.values));
      // y in [0, 1] (1: top) per dimension and trial; NaN when missing.
      this.norm = dims.map((dim, d) => {
        const [lo, hi] = this.ranges[d];
        const out = new Float32Array(n);
        for (let i = 0; i < n; i++) {
          const v = dim.values[i];
          out[i] = Number.isFinite(v) ? (v - lo) / (hi - lo) : NaN;
        }
        return out;
      });
      const [clo, chi] = extent(color);
      this.colorRange = [clo, chi];
      // Bucket by goodness, so that the best lines are drawn last (on top).
      this.bucket = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        let t = Number.isFinite(color[i]) ? (color[i] - clo) / (chi - clo) : 0;
        if (!this.options.bestHigh) t = 1 - t;
        this.bucket[i] = Math.min(BUCKETS - 1, Math.max(0, Math.floor(t * BUCKETS)));
      }
      // Bucket b holds goodness in [b / BUCKETS, (b + 1) / BUCKETS): yellow is better.
      this.bucketColors = Array.from({ length: BUCKETS }, (_, b) => viridis((b + 0.5) / BUCKETS));
      this.select();
    }

    /** The colour trial i's line is drawn in. */
    lineColour(i) { return this.bucketColors[this.bucket[i]]; }

    /** The selection mask from the brushes (null: no brush). */
    select() {
      const active = this.options.dims.map((dim, d) => this.brushes[dim.label] ? [d, this.brushes[dim.label]] : null).filter(Boolean);
      if (active.length === 0) { this.mask = null; return; }
      const mask = new Uint8Array(this.n).fill(1);
      for (const [d, [lo, hi]] of active) {
        const [rlo, rhi] = this.ranges[d];
        const a = (lo - rlo) / (rhi - rlo);
        const b = (hi - rlo) / (rhi - rlo);
        const col = this.norm[d];
        for (let i = 0; i < this.n; i++) if (!(col[i] >= a && col[i] <= b)) mask[i] = 0;
      }
      this.mask = mask;
    }

    y(t) { return this.margin.t + (1 - t) * this.plotH; }

    trace(ctx, i) {
      let pen = false;
      for (let d = 0; d < this.norm.length; d++) {
        const t = this.norm[d][i];
        if (Number.isNaN(t)) { pen = false; continue; }
        const x = this.xs[d];
        const y = this.y(t);
        if (pen) ctx.lineTo(x, y); else ctx.moveTo(x, y);
        pen = true;
      }
    }

    render() {
      const ctx = this.ctx;
      const n = this.n;
      const mask = this.mask;
      const alpha = Math.min(0.85, Math.max(0.12, 12 / Math.sqrt(Math.max(1, n))));
      // Lines in drawing order: unselected (grey) first, then by goodness.
      const order = [];
      const context = [];
      const byBucket = Array.from({ length: BUCKETS }, () => []);
      for (let i = 0; i < n; i++) {
        if (mask && !mask[i]) context.push(i); else byBucket[this.bucket[i]].push(i);
      }
      for (let k = 0; k < context.length; k += CHUNK) order.push(["#b9bec6", Math.min(alpha, 0.15), context.slice(k, k + CHUNK)]);
      for (let b = 0; b < BUCKETS; b++) {
        const lines = byBucket[b];
        for (let k = 0; k < lines.length; k += CHUNK) order.push([this.bucketColors[b], alpha, lines.slice(k, k + CHUNK)]);
      }
      // Group into frames of about CHUNK lines.
      const steps = [() => { ctx.clearRect(0, 0, this.width, this.height); }];
      let frame = [];
      let count = 0;
      for (const item of order) {
        frame.push(item);
        count += item[2].length;
        if (count >= CHUNK) { steps.push(this.stroker(frame)); frame = []; count = 0; }
      }
      if (frame.length) steps.push(this.stroker(frame));
      const best = this.options.best;
      if (best >= 0 && (!mask || mask[best])) {
        steps.push(() => {
          ctx.globalAlpha = 1;
          ctx.lineWidth = 3;
          ctx.strokeStyle = "#d1495b";
          ctx.beginPath();
          this.trace(ctx, best);
          ctx.stroke();
        });
      }
      return this.frames(steps);
    }

    stroker(items) {
      return () => {
        const ctx = this.ctx;
        ctx.lineWidth = 1;
        ctx.lineJoin = "round";
        for (const [colour, alpha, lines] of items) {
          ctx.globalAlpha = alpha;
          ctx.strokeStyle = colour;
          ctx.beginPath();
          for (const i of lines) this.trace(ctx, i);
          ctx.stroke();
        }
        ctx.globalAlpha = 1;
      };
    }

    drawOverlay() {
      const o = this.overlay;
      o.replaceChildren();
      const m = this.margin;
      const top = m.t;
      const bottom = m.t + this.plotH;
      this.options.dims.forEach((dim, d) => {
        const x = this.xs[d];
        const [lo, hi] = this.ranges[d];
        const g = svg("g", { class: "axis", "data-label": dim.label });
        g.append(svg("line", { x1: x, x2: x, y1: top, y2: bottom, stroke: "#444", "stroke-width": 1 }));
        g.append(svg("text", { x, y: top - 22, "text-anchor": "middle", "font-weight": 600, fill: "#1d232b" }, dim.label));
        let ticks;
        if (dim.ticktext) ticks = dim.ticktext.map((text, k) => [k, text]);
        else {
          let values = niceTicks(lo, hi, 6, dim.integer).filter((v) => v >= lo && v <= hi);
          if (dim.log) {
            // Whole decades when there are two or more, else 1-2-5 steps, else the nice ticks.
            const decades = [];
            const steps = [];
            for (let d = Math.floor(lo) - 1; d <= Math.ceil(hi); d++) {
              for (const k of [1, 2, 5]) {
                const v = d + Math.log10(k);
                if (v >= lo - 1e-9 && v <= hi + 1e-9) { steps.push(v); if (k === 1) decades.push(v); }
              }
            }
            if (decades.length >= 2) values = decades;
            else if (steps.length >= 2) values = steps;
          }
          ticks = values.map((v) => [v, dim.log ? fmtTick(Math.pow(10, v)) : fmtTick(v)]);
        }
        for (const [v, text] of ticks) {
          const y = this.y((v - lo) / (hi - lo));
          g.append(svg("line", { x1: x - 4, x2: x, y1: y, y2: y, stroke: "#444" }));
          g.append(svg("text", { class: "tick", x: x - 6, y: y + 4, "text-anchor": "end", fill: "#1d232b", "font-size": 11, stroke: "#fff", "stroke-width": 3, "paint-order": "stroke" }, text));
        }
        const brush = this.brushes[dim.label];
        if (brush) {
          const y1 = this.y((brush[1] - lo) / (hi - lo));
          const y2 = this.y((brush[0] - lo) / (hi - lo));
          g.append(svg("rect", { class: "brush", x: x - 7, y: y1, width: 14, height: Math.max(1, y2 - y1), fill: "rgba(47,111,208,0.25)", stroke: "#2f6fd0" }));
        }
        const hit = svg("rect", { class: "brush-area", x: x - 14, y: top, width: 28, height: this.plotH, fill: "transparent", style: "cursor: crosshair" });
        this.brushable(hit, d);
        g.append(hit);
        o.append(g);
      });
      // Colour bar: values rise upwards as on the objective's axis; the colour at a value is
      // the colour of the lines with that objective (yellow: better), and the better end says so.
      const barX = this.width - m.r + 40;
      const bestHigh = this.options.bestHigh;
      const defs = svg("defs");
      const gradient = svg("linearGradient", { id: "pc-grad-" + (Parcoords.seq = (Parcoords.seq || 0) + 1), x1: 0, y1: 1, x2: 0, y2: 0 });
      for (let k = 0; k <= 8; k++) gradient.append(svg("stop", { offset: k / 8, "stop-color": viridis(bestHigh ? k / 8 : 1 - k / 8) }));
      defs.append(gradient);
      o.append(defs);
      const bar = svg("g", { class: "colorbar", "data-better": bestHigh ? "top" : "bottom" });
      bar.append(svg("rect", { x: barX, y: top, width: 14, height: this.plotH, fill: `url(#${gradient.id})` }));
      const [clo, chi] = this.colorRange;
      for (const v of niceTicks(clo, chi, 5).filter((t) => t >= clo && t <= chi)) {
        const y = this.y((v - clo) / (chi - clo));
        bar.append(svg("text", { class: "tick", x: barX + 18, y: y + 4, "font-size": 11, fill: "#1d232b" }, fmtTick(v)));
      }
      bar.append(svg("text", { class: "title", x: barX, y: top - 24, "font-size": 11, fill: "#1d232b" }, this.options.colorLabel));
      bar.append(svg("text", { class: "better", x: barX - 4, y: bestHigh ? top - 8 : bottom + 16, "font-size": 11, "font-weight": 600, fill: "#1d232b" },
        bestHigh ? "\u25b2 better" : "\u25bc better"));
      o.append(bar);
    }

    brushable(hit, d) {
      const dim = this.options.dims[d];
      const [lo, hi] = this.ranges[d];
      const value = (clientY) => {
        const box = this.overlay.getBoundingClientRect();
        const t = 1 - (clientY - box.top - this.margin.t) / this.plotH;
        return lo + Math.min(1, Math.max(0, t)) * (hi - lo);
      };
      hit.addEventListener("pointerdown", (ev) => {
        ev.preventDefault();
        // Listen on the window: the overlay (and this rect) is drawn again while dragging.
        const start = ev.clientY;
        const v0 = value(start);
        let moved = false;
        const move = (e) => {
          if (Math.abs(e.clientY - start) < 3 && !moved) return;
          moved = true;
          const v1 = value(e.clientY);
          this.setBrush(dim.label, [Math.min(v0, v1), Math.max(v0, v1)], false);
        };
        const up = (e) => {
          window.removeEventListener("pointermove", move);
          window.removeEventListener("pointerup", up);
          if (!moved) this.setBrush(dim.label, null, true);
          else { const v1 = value(e.clientY); this.setBrush(dim.label, [Math.min(v0, v1), Math.max(v0, v1)], true); }
        };
        window.addEventListener("pointermove", move);
        window.addEventListener("pointerup", up);
      });
    }

    setBrush(label, range, done) {
      if (range) this.brushes[label] = range; else delete this.brushes[label];
      this.select();
      this.drawOverlay();
      if (!this.pending) {
        this.pending = true;
        requestAnimationFrame(() => { this.pending = false; this.render(); });
      }
      if (done && this.options.onBrush) this.options.onBrush(this.mask, Object.assign({}, this.brushes));
    }
  }

  // ---------------------------------------------------------------- scatter with a step line

  /** x, y: numbers; names: hover text; line: {x, y} (a step line: the best so far), lineLabel
   * (its legend, "best so far" unless given); xInteger: whole x ticks only; xTicks: [[x, text]]
   * instead of round numbers, xRange: [lo, hi] instead of the data's; onClick(i). */
  class History extends Chart {
    constructor(div, options) {
      super(div);
      this.options = options;
      this.margin = { l: 64, r: 16, t: 14, b: 42 };
      this.xr = options.xRange || extent(options.x);
      this.yr = extent(options.y);
      this.plotW = this.width - this.margin.l - this.margin.r;
      this.plotH = this.height - this.margin.t - this.margin.b;
      this.drawOverlay();
      this.render();
      this.hover();
    }

    px(v) { return this.margin.l + ((v - this.xr[0]) / (this.xr[1] - this.xr[0])) * this.plotW; }
    py(v) { return this.margin.t + (1 - (v - this.yr[0]) / (this.yr[1] - this.yr[0])) * this.plotH; }

    render() {
      const { x, y } = this.options;
      const ctx = this.ctx;
      const n = x.length;
      const r = n > 2000 ? 1.6 : 2.6;
      const steps = [() => ctx.clearRect(0, 0, this.width, this.height)];
      for (let k = 0; k < n; k += CHUNK * 2) {
        steps.push(() => {
          ctx.fillStyle = "rgba(47,111,208,0.55)";
          ctx.beginPath();
          for (let i = k; i < Math.min(n, k + CHUNK * 2); i++) {
            if (!Number.isFinite(y[i])) continue;
            const cx = this.px(x[i]);
            const cy = this.py(y[i]);
            ctx.moveTo(cx + r, cy);
            ctx.arc(cx, cy, r, 0, 2 * Math.PI);
          }
          ctx.fill();
        });
      }
      return this.frames(steps);
    }

    drawOverlay() {
      const o = this.overlay;
      const m = this.margin;
      const { line, xLabel, yLabel } = this.options;
      const bottom = m.t + this.plotH;
      const g = svg("g", { class: "axes", fill: "#1d232b" });
      g.append(svg("rect", { x: m.l, y: m.t, width: this.plotW, height: this.plotH, fill: "none", stroke: "#dde1e6" }));
      const xTicks = this.options.xTicks ||
        niceTicks(this.xr[0], this.xr[1], 6, this.options.xInteger).map((v) => [v, fmtTick(v)]);
      for (const [v, text] of xTicks.filter(([t]) => t >= this.xr[0] && t <= this.xr[1])) {
        const x = this.px(v);
        g.append(svg("line", { x1: x, x2: x, y1: m.t, y2: bottom, stroke: "#eef1f5" }));
        g.append(svg("text", { class: "xtick", x, y: bottom + 16, "text-anchor": "middle", "font-size": 11 }, text));
      }
      for (const v of niceTicks(this.yr[0], this.yr[1], 5).filter((t) => t >= this.yr[0] && t <= this.yr[1])) {
        const y = this.py(v);
        g.append(svg("line", { x1: m.l, x2: m.l + this.plotW, y1: y, y2: y, stroke: "#eef1f5" }));
        g.append(svg("text", { x: m.l - 6, y: y + 4, "text-anchor": "end", "font-size": 11 }, fmtTick(v)));
      }
      g.append(svg("text", { x: m.l + this.plotW / 2, y: this.height - 6, "text-anchor": "middle" }, xLabel));
      g.append(svg("text", { x: 14, y: m.t + this.plotH / 2, "text-anchor": "middle", transform: `rotate(-90 14 ${m.t + this.plotH / 2})` }, yLabel));
      if (line && line.x.length) {
        let d = "";
        for (let i = 0; i < line.x.length; i++) {
          const x = this.px(line.x[i]).toFixed(1);
          const y = this.py(line.y[i]).toFixed(1);
          d += i === 0 ? `M${x},${y}` : `H${x}V${y}`;
        }
        d += `H${(this.margin.l + this.plotW).toFixed(1)}`;
        g.append(svg("path", { class: "best-line", d, fill: "none", stroke: "#d1495b", "stroke-width": 2 }));
        const lx = m.l + this.plotW - 150;
        g.append(svg("line", { x1: lx, x2: lx + 18, y1: m.t + 12, y2: m.t + 12, stroke: "#d1495b", "stroke-width": 2 }));
        g.append(svg("text", { x: lx + 24, y: m.t + 16, "font-size": 11 }, this.options.lineLabel || "best so far"));
      }
      o.replaceChildren(g);
    }

    hover() {
      const tip = document.createElement("div");
      tip.className = "chart-tip";
      tip.hidden = true;
      this.div.append(tip);
      const nearest = (ev) => {
        const box = this.canvas.getBoundingClientRect();
        const mx = ev.clientX - box.left;
        const my = ev.clientY - box.top;
        const { x, y } = this.options;
        let best = -1;
        let dist = 64; // 8 px, squared
        for (let i = 0; i < x.length; i++) {
          const dx = this.px(x[i]) - mx;
          const dy = this.py(y[i]) - my;
          const d2 = dx * dx + dy * dy;
          if (d2 < dist) { dist = d2; best = i; }
        }
        return [best, mx, my];
      };
      this.overlay.addEventListener("mousemove", (ev) => {
        const [i, mx, my] = nearest(ev);
        if (i < 0) { tip.hidden = true; this.overlay.style.cursor = ""; return; }
        tip.textContent = `${this.options.names[i]}: ${fmtTick(this.options.y[i])}`;
        tip.style.left = Math.min(this.width - 160, mx + 12) + "px";
        tip.style.top = Math.max(0, my - 28) + "px";
        tip.hidden = false;
        this.overlay.style.cursor = "pointer";
      });
      this.overlay.addEventListener("mouseleave", () => { tip.hidden = true; });
      this.overlay.addEventListener("click", (ev) => {
        const [i] = nearest(ev);
        if (i >= 0 && this.options.onClick) this.options.onClick(i);
      });
    }
  }

  // ---------------------------------------------------------------- horizontal bars

  /** items: [{label, value}] (drawn top to bottom), xLabel, title (drawn above the bars, so that
   * downloads carry it too). */
  class Bars extends Chart {
    constructor(div, options) {
      super(div);
      this.options = options;
      const { items, xLabel, title } = options;
      const m = { l: 130, r: 50, t: title ? 28 : 10, b: 40 };
      const plotW = this.width - m.l - m.r;
      const plotH = this.height - m.t - m.b;
      const max = Math.max(0.05, ...items.map((i) => i.value)) * 1.1;
      const band = plotH / Math.max(1, items.length);
      const g = svg("g", { class: "bars", fill: "#1d232b" });
      for (const v of niceTicks(0, max, 5).filter((t) => t <= max)) {
        const x = m.l + (v / max) * plotW;
        g.append(svg("line", { x1: x, x2: x, y1: m.t, y2: m.t + plotH, stroke: "#eef1f5" }));
        g.append(svg("text", { x, y: m.t + plotH + 16, "text-anchor": "middle", "font-size": 11 }, fmtTick(v)));
      }
      items.forEach((item, k) => {
        const y = m.t + k * band;
        const w = Math.max(0, (item.value / max) * plotW);
        g.append(svg("rect", { class: "bar", x: m.l, y: y + band * 0.15, width: w, height: band * 0.7, fill: "#2f6fd0" }, svg("title", {}, `${item.label}: ${item.value.toFixed(3)}`)));
        g.append(svg("text", { x: m.l - 6, y: y + band / 2 + 4, "text-anchor": "end" }, item.label));
        g.append(svg("text", { x: m.l + w + 4, y: y + band / 2 + 4, "font-size": 11 }, item.value.toFixed(3)));
      });
      g.append(svg("text", { x: m.l + plotW / 2, y: this.height - 6, "text-anchor": "middle" }, xLabel));
      if (title) g.append(svg("text", { class: "title", x: m.l + plotW / 2, y: 16, "text-anchor": "middle", "font-weight": 600 }, title));
      this.overlay.replaceChildren(g);
    }
  }

  // ---------------------------------------------------------------- timeline

  /**
   * items: [{name, start, end (ms since the epoch), status}], colours: {status: colour}.
   * Each trial is a bar in the first slot free when it started (slots: how many trials ran at
   * once), so idle slots show as gaps.  x: seconds since the first start.
   */
  class Timeline extends Chart {
    constructor(div, options) {
      super(div);
      this.options = options;
      const m = { l: 64, r: 16, t: 28, b: 42 };
      const items = options.items.slice().sort((a, b) => a.start - b.start || a.end - b.end);
      const t0 = items.length ? items[0].start : 0;
      const free = []; // per slot: when it is free again
      this.slotOf = new Map();
      for (const item of items) {
        let slot = free.findIndex((end) => end <= item.start);
        if (slot < 0) { slot = free.length; free.push(0); }
        free[slot] = item.end;
        this.slotOf.set(item.name, slot);
      }
      this.slots = Math.max(1, free.length);
      const tEnd = Math.max(t0 + 1, ...items.map((i) => i.end));
      const plotW = this.width - m.l - m.r;
      const plotH = this.height - m.t - m.b;
      const px = (t) => m.l + ((t - t0) / (tEnd - t0)) * plotW;
      const band = plotH / this.slots;
      const ctx = this.ctx;
      const steps = [() => ctx.clearRect(0, 0, this.width, this.height)];
      for (let k = 0; k < items.length; k += CHUNK) {
        steps.push(() => {
          for (const item of items.slice(k, k + CHUNK)) {
            const slot = this.slotOf.get(item.name);
            ctx.fillStyle = options.colours[item.status] || "#adb5bd";
            ctx.fillRect(px(item.start), m.t + slot * band + band * 0.1, Math.max(1, px(item.end) - px(item.start)), Math.max(1, band * 0.8));
          }
        });
      }
      const g = svg("g", { class: "axes", fill: "#1d232b" });
      g.append(svg("rect", { x: m.l, y: m.t, width: plotW, height: plotH, fill: "none", stroke: "#dde1e6" }));
      const seconds = (tEnd - t0) / 1000;
      for (const v of niceTicks(0, seconds, 6).filter((t) => t >= 0 && t <= seconds)) {
        const x = px(t0 + v * 1000);
        g.append(svg("text", { class: "xtick", x, y: m.t + plotH + 16, "text-anchor": "middle", "font-size": 11 }, fmtTick(v)));
      }
      g.append(svg("text", { x: m.l + plotW / 2, y: this.height - 6, "text-anchor": "middle" }, "seconds since the first trial started"));
      g.append(svg("text", { x: 14, y: m.t + plotH / 2, "text-anchor": "middle", transform: `rotate(-90 14 ${m.t + plotH / 2})` }, `slot (${this.slots} at most at once)`));
      let lx = m.l;
      for (const status of Object.keys(options.colours)) {
        if (!items.some((i) => i.status === status)) continue;
        g.append(svg("rect", { class: "legend", x: lx, y: 8, width: 10, height: 10, fill: options.colours[status] }));
        g.append(svg("text", { x: lx + 14, y: 17, "font-size": 11 }, status));
        lx += 24 + status.length * 7;
      }
      this.overlay.replaceChildren(g);
      this.frames(steps);
    }
  }

  // ---------------------------------------------------------------- shared axis helpers

  /** Ticks of an axis as [[position, text]]: axis {values, ticktext?, log?, integer?} (as the
   * experiment page's parameterAxes makes them), range [lo, hi] of positions. */
  function axisTicks(axis, lo, hi) {
    if (axis.ticktext) return axis.ticktext.map((text, k) => [k, text]);
    if (axis.log) {
      // Whole decades when there are two or more, else 1-2-5 steps, else the ends.
      const decades = [];
      const steps = [];
      for (let d = Math.floor(lo) - 1; d <= Math.ceil(hi); d++) {
        for (const k of [1, 2, 5]) {
          const v = d + Math.log10(k);
          if (v >= lo - 1e-9 && v <= hi + 1e-9) { steps.push(v); if (k === 1) decades.push(v); }
        }
      }
      const values = decades.length >= 2 ? decades : steps.length >= 2 ? steps : [lo, hi];
      return values.map((v) => [v, fmtTick(Math.pow(10, v))]);
    }
    return niceTicks(lo, hi, 6, axis.integer).filter((v) => v >= lo && v <= hi).map((v) => [v, fmtTick(v)]);
  }

  /** The range of positions an axis spans: categories from -0.5 to n - 0.5. */
  function axisRange(axis) {
    return axis.ticktext ? [-0.5, axis.ticktext.length - 0.5] : extent(axis.values);
  }

  /** A vertical colour bar with the better end yellow and labelled "better" (as the parallel
   * coordinates' bar): values rise upwards; appended to `parent` (SVG). */
  function colourBar(parent, { x, top, height, range, bestHigh, label }) {
    const [lo, hi] = range;
    const gradient = svg("linearGradient", { id: "bar-grad-" + (colourBar.seq = (colourBar.seq || 0) + 1), x1: 0, y1: 1, x2: 0, y2: 0 });
    for (let k = 0; k <= 8; k++) gradient.append(svg("stop", { offset: k / 8, "stop-color": viridis(bestHigh ? k / 8 : 1 - k / 8) }));
    parent.append(svg("defs", {}, gradient));
    const bar = svg("g", { class: "colorbar", "data-better": bestHigh ? "top" : "bottom" });
    bar.append(svg("rect", { x, y: top, width: 14, height, fill: `url(#${gradient.id})` }));
    for (const v of niceTicks(lo, hi, 5).filter((t) => t >= lo && t <= hi)) {
      const y = top + (1 - (v - lo) / (hi - lo)) * height;
      bar.append(svg("text", { class: "tick", x: x + 18, y: y + 4, "font-size": 11, fill: "#1d232b" }, fmtTick(v)));
    }
    bar.append(svg("text", { class: "title", x, y: top - 20, "font-size": 11, fill: "#1d232b" }, label));
    bar.append(svg("text", { class: "better", x: x - 4, y: bestHigh ? top - 6 : top + height + 16, "font-size": 11, "font-weight": 600, fill: "#1d232b" },
      bestHigh ? "\u25b2 better" : "\u25bc better"));
    parent.append(bar);
    return bar;
  }

  /** A tooltip and a click on the nearest of some points (within 8 px): nearest(mx, my) gives
   * [index or -1, text]. */
  function pointerTips(chart, nearest, onClick) {
    const tip = document.createElement("div");
    tip.className = "chart-tip";
    tip.hidden = true;
    chart.div.append(tip);
    const at = (ev) => {
      const box = chart.canvas.getBoundingClientRect();
      return [ev.clientX - box.left, ev.clientY - box.top];
    };
    // At most one search a frame (a chart may hold hundreds of thousands of points).
    let pending = null;
    let scheduled = false;
    chart.overlay.addEventListener("mousemove", (ev) => {
      pending = ev;
      if (scheduled) return;
      scheduled = true;
      requestAnimationFrame(() => { scheduled = false; const e = pending; pending = null; if (e) move(e); });
    });
    const move = (ev) => {
      const [mx, my] = at(ev);
      const [i, text] = nearest(mx, my);
      if (i < 0) { tip.hidden = true; chart.overlay.style.cursor = ""; return; }
      tip.textContent = text;
      tip.style.left = Math.min(chart.width - 200, mx + 12) + "px";
      tip.style.top = Math.max(0, my - 28) + "px";
      tip.hidden = false;
      chart.overlay.style.cursor = onClick ? "pointer" : "";
    };
    chart.overlay.addEventListener("mouseleave", () => { pending = null; tip.hidden = true; });
    chart.overlay.addEventListener("click", (ev) => {
      const [i] = nearest(...at(ev));
      if (i >= 0 && onClick) onClick(i);
    });
  }

  /** Axes of a 2D plot into SVG group g: frame, ticks (xTicks/yTicks: [[v, text]]), titles. */
  function frame2d(g, { m, plotW, plotH, width, height, px, py, xTicks, yTicks, xLabel, yLabel }) {
    const bottom = m.t + plotH;
    g.append(svg("rect", { x: m.l, y: m.t, width: plotW, height: plotH, fill: "none", stroke: "#dde1e6" }));
    for (const [v, text] of xTicks) {
      const x = px(v);
      g.append(svg("line", { x1: x, x2: x, y1: bottom, y2: bottom + 4, stroke: "#444" }));
      g.append(svg("text", { class: "xtick", x, y: bottom + 16, "text-anchor": "middle", "font-size": 11 }, text));
    }
    for (const [v, text] of yTicks) {
      const y = py(v);
      g.append(svg("line", { x1: m.l - 4, x2: m.l, y1: y, y2: y, stroke: "#444" }));
      g.append(svg("text", { class: "ytick", x: m.l - 6, y: y + 4, "text-anchor": "end", "font-size": 11 }, text));
    }
    g.append(svg("text", { class: "xlabel", x: m.l + plotW / 2, y: height - 6, "text-anchor": "middle" }, xLabel));
    g.append(svg("text", { class: "ylabel", x: 14, y: m.t + plotH / 2, "text-anchor": "middle", transform: `rotate(-90 14 ${m.t + plotH / 2})` }, yLabel));
  }

  // ---------------------------------------------------------------- contour

  /** Cells of a numeric axis of the contour's grid. */
  const CONTOUR_CELLS = 40;

  /**
   * The objective over two parameters: x and y are axes as parameterAxes makes them ({label,
   * values (log10 for log axes, category numbers for categories), ticktext?, log?, integer?}),
   * z the trials' objectives, names their names, best the best trial's index (-1: none),
   * bestHigh, zLabel, onClick(i).  Each trial's objective is put in its cell of a grid (one cell
   * per category, CONTOUR_CELLS per numeric axis; a mean where several fall in one) and the
   * empty cells are filled by relaxation (each the mean of its neighbours), as plotly's contour
   * connects gaps; the trials are dots on top.  Colours as the parallel coordinates': the
   * better, the nearer Viridis' yellow, whichever the direction, and the bar says which end.
   */
  class Contour extends Chart {
    constructor(div, options) {
      super(div);
      this.options = options;
      this.xr = axisRange(options.x);
      this.yr = axisRange(options.y);
      // Room on the left for the y axis' longest tick (category names can be long).
      const longest = Math.max(0, ...axisTicks(options.y, ...this.yr).map(([, text]) => text.length));
      const m = this.margin = { l: Math.min(220, Math.max(70, 30 + longest * 6.6)), r: 96, t: 30, b: 42 };
      this.plotW = this.width - m.l - m.r;
      this.plotH = this.height - m.t - m.b;
      this.zr = extent(options.z);
      this.grid();
      this.drawOverlay();
      this.render();
      const { x, y, z, names } = options;
      pointerTips(this, (mx, my) => {
        let best = -1;
        let dist = 64;
        for (let i = 0; i < z.length; i++) {
          if (!Number.isFinite(x.values[i]) || !Number.isFinite(y.values[i])) continue;
          const dx = this.px(x.values[i]) - mx;
          const dy = this.py(y.values[i]) - my;
          if (dx * dx + dy * dy < dist) { dist = dx * dx + dy * dy; best = i; }
        }
        return [best, best < 0 ? "" : `${names[best]}: ${fmtTick(z[best])}`];
      }, options.onClick);
    }

    px(v) { return this.margin.l + ((v - this.xr[0]) / (this.xr[1] - this.xr[0])) * this.plotW; }
    py(v) { return this.margin.t + (1 - (v - this.yr[0]) / (this.yr[1] - this.yr[0])) * this.plotH; }

    /** The grid of objectives: this.cells[j * nx + i] (j: from the bottom). */
    grid() {
      const { x, y, z } = this.options;
      const nx = this.nx = x.ticktext ? x.ticktext.length : CONTOUR_CELLS;
      const ny = this.ny = y.ticktext ? y.ticktext.length : CONTOUR_CELLS;
      const cell = (v, [lo, hi], n) => Math.min(n - 1, Math.max(0, Math.floor(((v - lo) / (hi - lo)) * n)));
      const sum = new Float64Array(nx * ny);
      const count = new Uint32Array(nx * ny);
      let total = 0;
      let seen = 0;
      for (let i = 0; i < z.length; i++) {
        if (!Number.isFinite(x.values[i]) || !Number.isFinite(y.values[i]) || !Number.isFinite(z[i])) continue;
        const k = cell(y.values[i], this.yr, ny) * nx + cell(x.values[i], this.xr, nx);
        sum[k] += z[i];
        count[k] += 1;
        total += z[i];
        seen += 1;
      }
      const cells = new Float64Array(nx * ny);
      const empty = [];
      for (let k = 0; k < cells.length; k++) {
        if (count[k]) cells[k] = sum[k] / count[k];
        else { cells[k] = seen ? total / seen : NaN; empty.push(k); }
      }
      // Gauss-Seidel relaxation of the empty cells towards the mean of their neighbours.
      for (let round = 0; seen && empty.length && round < 300; round++) {
        let change = 0;
        for (const k of empty) {
          const i = k % nx;
          const j = (k - i) / nx;
          let s = 0;
          let n = 0;
          if (i > 0) { s += cells[k - 1]; n++; }
          if (i < nx - 1) { s += cells[k + 1]; n++; }
          if (j > 0) { s += cells[k - nx]; n++; }
          if (j < ny - 1) { s += cells[k + nx]; n++; }
          const v = s / n;
          change = Math.max(change, Math.abs(v - cells[k]));
          cells[k] = v;
        }
        if (change <= 1e-9 * (Math.abs(this.zr[1] - this.zr[0]) || 1)) break;
      }
      this.cells = cells;
    }

    /** The colour of an objective value: yellow is better. */
    colour(v) {
      const [lo, hi] = this.zr;
      const t = (v - lo) / (hi - lo);
      return viridis(this.options.bestHigh ? t : 1 - t);
    }

    render() {
      const ctx = this.ctx;
      const { x, y, z, best } = this.options;
      const m = this.margin;
      const cw = this.plotW / this.nx;
      const ch = this.plotH / this.ny;
      const steps = [() => {
        ctx.clearRect(0, 0, this.width, this.height);
        for (let j = 0; j < this.ny; j++) {
          for (let i = 0; i < this.nx; i++) {
            const v = this.cells[j * this.nx + i];
            if (!Number.isFinite(v)) continue;
            ctx.fillStyle = this.colour(v);
            // Overlap by half a pixel: no seams between cells.
            ctx.fillRect(m.l + i * cw, m.t + (this.ny - 1 - j) * ch, cw + 0.5, ch + 0.5);
          }
        }
      }];
      // Few trials: white dots ringed; many: small translucent dark ones (the surface shows).
      const many = z.length > 300;
      const r = many ? 1.3 : 3;
      for (let k = 0; k < z.length; k += CHUNK) {
        steps.push(() => {
          ctx.fillStyle = many ? "rgba(29,35,43,0.3)" : "rgba(255,255,255,0.9)";
          ctx.strokeStyle = "#1d232b";
          ctx.lineWidth = 1;
          ctx.beginPath();
          for (let i = k; i < Math.min(z.length, k + CHUNK); i++) {
            if (!Number.isFinite(x.values[i]) || !Number.isFinite(y.values[i])) continue;
            const cx = this.px(x.values[i]);
            const cy = this.py(y.values[i]);
            ctx.moveTo(cx + r, cy);
            ctx.arc(cx, cy, r, 0, 2 * Math.PI);
          }
          ctx.fill();
          if (!many) ctx.stroke();
        });
      }
      if (best >= 0 && Number.isFinite(x.values[best]) && Number.isFinite(y.values[best])) {
        steps.push(() => {
          ctx.strokeStyle = "#d1495b";
          ctx.lineWidth = 2.5;
          ctx.beginPath();
          ctx.arc(this.px(x.values[best]), this.py(y.values[best]), 7, 0, 2 * Math.PI);
          ctx.stroke();
        });
      }
      return this.frames(steps);
    }

    drawOverlay() {
      const { x, y, zLabel, bestHigh } = this.options;
      const m = this.margin;
      const g = svg("g", { class: "axes", fill: "#1d232b" });
      frame2d(g, {
        m, plotW: this.plotW, plotH: this.plotH, width: this.width, height: this.height,
        px: (v) => this.px(v), py: (v) => this.py(v),
        xTicks: axisTicks(x, ...this.xr), yTicks: axisTicks(y, ...this.yr), xLabel: x.label, yLabel: y.label,
      });
      const bar = svg("g");
      colourBar(bar, { x: this.width - m.r + 30, top: m.t, height: this.plotH, range: this.zr, bestHigh, label: zLabel });
      this.overlay.replaceChildren(g, bar);
    }
  }

  // ---------------------------------------------------------------- intermediate values

  /** Points of curves drawn per animation frame. */
  const CURVE_CHUNK = 15000;

  /** How each status's curves are drawn, and their legend. */
  const CURVE_STYLES = {
    EarlyStopped: { colour: "#e8590c", dash: [5, 3], label: "early-stopped (\u00d7 where it stopped)" },
    Running: { colour: "#f08c00", dash: [], label: "running" },
    Succeeded: { colour: "#2f6fd0", dash: [], label: "completed" },
    other: { colour: "#868e96", dash: [2, 2], label: "failed or killed" },
  };

  /**
   * Every trial's curve of one metric: series [{name, status, steps, values}] (values may
   * hold null), best: the best trial's name (drawn on top, red), xLabel, yLabel,
   * onClick(name).  Early-stopped curves are dashed and orange with a cross at their last
   * point; the legend names the styles present.
   */
  class Curves extends Chart {
    constructor(div, options) {
      super(div);
      this.options = options;
      const m = this.margin = { l: 64, r: 16, t: 30, b: 42 };
      this.plotW = this.width - m.l - m.r;
      this.plotH = this.height - m.t - m.b;
      const xs = [];
      const ys = [];
      for (const s of options.series) { xs.push(...s.steps); for (const v of s.values) if (v !== null) ys.push(v); }
      this.xr = extent(xs);
      const [ylo, yhi] = extent(ys);
      const pad = (yhi - ylo) * 0.04;
      this.yr = [ylo - pad, yhi + pad];
      this.styleOf = (status) => CURVE_STYLES[status] ? status : "other";
      this.stopped = options.series.filter((s) => s.status === "EarlyStopped" && s.steps.length).map((s) => s.name);
      this.drawOverlay();
      this.render();
      const series = options.series;
      pointerTips(this, (mx, my) => {
        let best = -1;
        let dist = 64;
        let text = "";
        for (let k = 0; k < series.length; k++) {
          const { steps, values } = series[k];
          for (let i = 0; i < steps.length; i++) {
            if (values[i] === null) continue;
            const dx = this.px(steps[i]) - mx;
            const dy = this.py(values[i]) - my;
            if (dx * dx + dy * dy < dist) {
              dist = dx * dx + dy * dy;
              best = k;
              text = `${series[k].name} (${series[k].status}) step ${steps[i]}: ${fmtTick(values[i])}`;
            }
          }
        }
        return [best, text];
      }, options.onClick ? (k) => options.onClick(series[k].name) : null);
    }

    px(v) { return this.margin.l + ((v - this.xr[0]) / (this.xr[1] - this.xr[0])) * this.plotW; }
    py(v) { return this.margin.t + (1 - (v - this.yr[0]) / (this.yr[1] - this.yr[0])) * this.plotH; }

    trace(ctx, s) {
      let pen = false;
      for (let i = 0; i < s.steps.length; i++) {
        const v = s.values[i];
        if (v === null) { pen = false; continue; }
        const x = this.px(s.steps[i]);
        const y = this.py(v);
        if (pen) ctx.lineTo(x, y); else ctx.moveTo(x, y);
        pen = true;
      }
      if (s.steps.length === 1 && s.values[0] !== null) {
        const x = this.px(s.steps[0]);
        const y = this.py(s.values[0]);
        ctx.moveTo(x - 1.5, y);
        ctx.lineTo(x + 1.5, y);
      }
    }

    render() {
      const ctx = this.ctx;
      const { series, best } = this.options;
      const n = series.length;
      const alpha = Math.min(0.9, Math.max(0.15, 8 / Math.sqrt(Math.max(1, n))));
      // Completed first, then the others, so that early stops and running trials stay visible.
      const order = ["other", "Succeeded", "EarlyStopped", "Running"];
      const groups = Object.fromEntries(order.map((k) => [k, []]));
      for (const s of series) groups[this.styleOf(s.status)].push(s);
      const steps = [() => ctx.clearRect(0, 0, this.width, this.height)];
      for (const key of order) {
        const style = CURVE_STYLES[key];
        const list = groups[key];
        // About CURVE_CHUNK points a frame, whatever the curves' lengths.
        let k = 0;
        while (k < list.length) {
          const start = k;
          let points = 0;
          while (k < list.length && (points === 0 || points + list[k].steps.length <= CURVE_CHUNK)) points += list[k++].steps.length;
          const part = list.slice(start, k);
          steps.push(() => {
            ctx.globalAlpha = key === "Running" ? Math.max(alpha, 0.8) : alpha;
            ctx.strokeStyle = style.colour;
            ctx.lineWidth = key === "Running" ? 2 : 1.2;
            ctx.setLineDash(style.dash);
            ctx.beginPath();
            for (const s of part) this.trace(ctx, s);
            ctx.stroke();
            ctx.setLineDash([]);
            ctx.globalAlpha = 1;
          });
        }
      }
      const top = series.find((s) => s.name === best);
      if (top) {
        steps.push(() => {
          ctx.strokeStyle = "#d1495b";
          ctx.lineWidth = 2.5;
          ctx.setLineDash([]);
          ctx.beginPath();
          this.trace(ctx, top);
          ctx.stroke();
        });
      }
      return this.frames(steps);
    }

    /** Where each early-stopped curve ends: [x, y] in pixels. */
    stopPoints() {
      const out = [];
      for (const s of this.options.series) {
        if (s.status !== "EarlyStopped") continue;
        for (let i = s.steps.length - 1; i >= 0; i--) {
          if (s.values[i] !== null) { out.push([this.px(s.steps[i]), this.py(s.values[i])]); break; }
        }
      }
      return out;
    }

    drawOverlay() {
      const { xLabel, yLabel, series, best } = this.options;
      const m = this.margin;
      const g = svg("g", { class: "axes", fill: "#1d232b" });
      const integerSteps = series.every((s) => s.steps.every(Number.isInteger));
      frame2d(g, {
        m, plotW: this.plotW, plotH: this.plotH, width: this.width, height: this.height,
        px: (v) => this.px(v), py: (v) => this.py(v),
        xTicks: niceTicks(this.xr[0], this.xr[1], 6, integerSteps).filter((v) => v >= this.xr[0] && v <= this.xr[1]).map((v) => [v, fmtTick(v)]),
        yTicks: niceTicks(this.yr[0], this.yr[1], 5).filter((v) => v >= this.yr[0] && v <= this.yr[1]).map((v) => [v, fmtTick(v)]),
        xLabel, yLabel,
      });
      // The crosses of the early stops, as one SVG path (they stay sharp in the SVG download).
      const points = this.stopPoints();
      if (points.length) {
        const d = points.map(([x, y]) => `M${(x - 4).toFixed(1)},${(y - 4).toFixed(1)}l8,8m0,-8l-8,8`).join("");
        g.append(svg("path", { class: "stop-marks", d, stroke: CURVE_STYLES.EarlyStopped.colour, "stroke-width": 2, fill: "none", "data-count": points.length }));
      }
      // Legend: the styles present, and the best trial.
      let lx = m.l;
      const entry = (key, colour, dash, label) => {
        const item = svg("g", { class: "legend", "data-style": key });
        item.append(svg("line", { x1: lx, x2: lx + 22, y1: 12, y2: 12, stroke: colour, "stroke-width": 2, "stroke-dasharray": dash.length ? dash.join(",") : null }));
        if (key === "EarlyStopped") item.append(svg("path", { d: `M${lx + 18},8l8,8m0,-8l-8,8`, stroke: colour, "stroke-width": 2 }));
        item.append(svg("text", { x: lx + 30, y: 16, "font-size": 11 }, label));
        g.append(item);
        lx += 40 + label.length * 6.2;
      };
      for (const key of ["Succeeded", "EarlyStopped", "Running", "other"]) {
        if (series.some((s) => this.styleOf(s.status) === key)) entry(key, CURVE_STYLES[key].colour, CURVE_STYLES[key].dash, CURVE_STYLES[key].label);
      }
      if (series.some((s) => s.name === best)) entry("best", "#d1495b", [], "best trial");
      this.overlay.replaceChildren(g);
    }
  }

  return {
    parcoords: (div, options) => new Parcoords(div, options),
    history: (div, options) => new History(div, options),
    bars: (div, options) => new Bars(div, options),
    timeline: (div, options) => new Timeline(div, options),
    contour: (div, options) => new Contour(div, options),
    curves: (div, options) => new Curves(div, options),
    viridis,
    // The building blocks, for the charts of pareto.js.
    kit: { Chart, svg, extent, niceTicks, fmtTick, frame2d, pointerTips, makeCanvas },
  };
})();
