// The profiler view: the run's flame graph (speedscope's JSON from issue 10's
// profiler, turned into a call tree for d3-flame-graph) and the GC pause and
// JIT event timelines, drawn as plain SVG on one millisecond axis.
import flamegraph from "d3-flame-graph";
import { select } from "d3-selection";
import { h, clear } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

// speedscope "sampled" profiles (one per fiber): each sample is a stack of
// frame indexes, outermost first, with a weight. Merge them into one tree;
// with several fibers each gets its own subtree under the root.
export function speedscopeToTree(doc) {
  const frames = (doc.shared && doc.shared.frames) || [];
  const profiles = (doc.profiles || []).filter((p) => p.type === "sampled");
  const root = { name: "all", value: 0, children: [] };
  const child = (node, name) => {
    let c = node.children.find((x) => x.name === name);
    if (!c) { c = { name, value: 0, children: [] }; node.children.push(c); }
    return c;
  };
  for (const p of profiles) {
    const top = profiles.length > 1 ? child(root, p.name || "fiber") : root;
    p.samples.forEach((stack, i) => {
      const w = p.weights ? p.weights[i] : 1;
      root.value += w;
      if (top !== root) top.value += w;
      let node = top;
      for (const idx of stack) {
        node = child(node, frames[idx] ? frames[idx].name : `#${idx}`);
        node.value += w;
      }
    });
  }
  return root;
}

function totals(tree) {
  // Total weight per function name (counted once per stack, so recursion
  // does not inflate it), for the text table beside the graph.
  const out = new Map();
  const walk = (node, seen) => {
    const fresh = !seen.has(node.name);
    if (fresh && node.name !== "all") out.set(node.name, (out.get(node.name) || 0) + node.value);
    const next = fresh ? new Set([...seen, node.name]) : seen;
    for (const c of node.children) walk(c, next);
  };
  walk(tree, new Set());
  return [...out.entries()].sort((a, b) => b[1] - a[1]);
}

export class ProfileView {
  constructor(root, { onRun }) {
    this.onRun = onRun;
    this.flameEl = h("div", { class: "flame", "data-testid": "flame" });
    this.tableEl = h("div", { class: "flame-table" });
    this.timelinesEl = h("div", { class: "timelines", "data-testid": "profile-timelines" });
    this.statusEl = h("div", { class: "muted" }, "Run the program to profile it.");
    clear(root, this.statusEl,
      h("div", { class: "profile-split" }, this.flameEl, this.tableEl),
      h("h3", {}, "GC pauses and JIT events"), this.timelinesEl);
  }

  async load(api, session) {
    this.statusEl.textContent = "Profiling…";
    let prof;
    try {
      prof = await api.profile(session);
    } catch (err) {
      this.statusEl.textContent = err.message;
      return;
    }
    this.data = prof;
    this.render();
  }

  render() {
    const prof = this.data;
    if (!prof) return;
    const tree = speedscopeToTree(prof.flame || {});
    const unit = ((prof.flame && prof.flame.profiles && prof.flame.profiles[0]) || {}).unit || "samples";
    const what = unit === "none" ? "samples" : unit;
    this.statusEl.textContent = `${tree.value} ${what} sampled; click a frame to zoom in, the bottom frame to zoom out.`;
    clear(this.flameEl);
    const width = Math.max(this.flameEl.clientWidth || 0, 300);
    const chart = flamegraph()
      .width(width)
      .cellHeight(18)
      .transitionDuration(0)
      .minFrameSize(1)
      .sort(true)
      .title("")
      .selfValue(false);
    select(this.flameEl).datum(tree).call(chart);
    clear(this.tableEl, h("table", {},
      h("tr", {}, h("th", {}, "function"), h("th", {}, "total")),
      totals(tree).slice(0, 15).map(([name, v]) => h("tr", {},
        h("td", {}, name), h("td", { class: "num" }, `${((100 * v) / Math.max(tree.value, 1)).toFixed(1)}%`)))));
    this.renderTimelines(prof.gc || [], prof.jit || []);
  }

  renderTimelines(gc, jit) {
    const end = Math.max(1, ...gc.map((g) => g.start_ms + g.pause_ms), ...jit.map((j) => j.t_ms));
    const width = Math.max(this.timelinesEl.clientWidth || 0, 300);
    const x = (ms) => 90 + ((width - 100) * ms) / end;
    const axis = svg("g", {});
    for (let i = 0; i <= 4; i++) {
      const ms = (end * i) / 4;
      axis.append(svg("line", { x1: x(ms), x2: x(ms), y1: 4, y2: 66, class: "tick" }),
        svg("text", { x: x(ms), y: 78, "text-anchor": i === 4 ? "end" : "middle", class: "axis" }, `${ms.toFixed(ms < 10 ? 1 : 0)} ms`));
    }
    const gcRow = svg("g", {}, svg("text", { x: 4, y: 22, class: "row" }, `GC (${gc.length})`),
      ...gc.map((g) => svg("rect", {
        x: x(g.start_ms), y: 10, width: Math.max(2, x(g.start_ms + g.pause_ms) - x(g.start_ms)), height: 18,
        class: `gc-bar gc-${g.kind}`,
      }, svg("title", {}, `${g.kind} collection at ${g.start_ms} ms, paused ${g.pause_ms} ms`))));
    const jitRow = svg("g", {}, svg("text", { x: 4, y: 52, class: "row" }, `JIT (${jit.length})`),
      ...jit.map((j) => svg("rect", { x: x(j.t_ms) - 1, y: 40, width: 3, height: 18, class: `jit-tick jit-${j.event}` },
        svg("title", {}, `${j.t_ms} ms: ${j.event} ${j.function}`))));
    const chart = svg("svg", { width, height: 84, class: "timeline-svg" }, axis, gcRow, jitRow);
    clear(this.timelinesEl, chart,
      h("div", { class: "events" },
        gc.length ? `GC pauses: ${gc.map((g) => `${g.kind} ${g.pause_ms} ms`).slice(0, 12).join(", ")}` : "No collections.",
        h("br"),
        jit.length ? `JIT: ${jit.map((j) => `${j.event} ${j.function}`).slice(0, 12).join(", ")}` : "No JIT events (the run stayed in the interpreter)."));
  }

  shown() {
    this.render();
  }
}
