// The heap panel: Python Tutor's picture (frames on the left, objects to the
// right, one arrow per reference) drawn with cytoscape, plus the same data as
// text. Only objects reachable from the frames are sent, a page at a time
// (`heap_limit`/`heap_offset`), so a big heap never floods the page; objects
// with many fields collapse to their first few.
import cytoscape from "cytoscape";
import dagre from "cytoscape-dagre";
import { h, clear } from "./dom.js";

const MAX_FIELDS = 8; // fields drawn in a node before "… n more"
export const PAGE = 40; // objects per page
const MIN_ZOOM = 0.7; // below this node text is unreadable: pan instead

// During an incremental cycle a node is filled with its mark colour (black
// with white text); otherwise its fill tells its generation. The border says
// the generation too, so both read at once in a generational incremental run.
const MARK_FILL = { white: "#ffffff", grey: "#cfcfcf", black: "#2b2b2b" };
const GEN_FILL = { young: "#e9f7e9", old: "#e6edfb" };
const GEN_BORDER = { young: "#4c9a4c", old: "#4a6fb0" };

function valueText(v) {
  return v ? v.text : "?";
}

// "#7 list (3)": the type, then the server's label unless it already says it.
export function nodeTitle(node) {
  const label = node.label || "";
  return `#${node.id} ` + (label.startsWith(node.type) ? label : `${node.type}${label ? " " + label : ""}`);
}

function nodeLabel(node) {
  const head = nodeTitle(node);
  const fields = node.fields.slice(0, MAX_FIELDS).map((f) =>
    `${f.name}: ${f.value.kind === "ref" ? "•" : valueText(f.value)}`);
  if (node.fields.length > MAX_FIELDS) fields.push(`… ${node.fields.length - MAX_FIELDS} more`);
  return [head, ...fields].join("\n");
}

function frameLabel(frame) {
  const locals = frame.locals.map((l) => `${l.name}: ${l.kind === "ref" ? "•" : valueText(l)}`);
  return [`${frame.function}:${frame.line}`, ...locals].join("\n");
}

// Node size from its label (monospace 10px: ~6.1px a character, 13px a line;
// a little more, as canvas text metrics differ by font).
function sized(data) {
  const lines = data.label.split("\n");
  data.w = Math.max(...lines.map((l) => l.length)) * 6.4 + 16;
  data.h = lines.length * 13 + 10;
  return data;
}

cytoscape.use(dagre);

export class HeapView {
  constructor(root, { onPage }) {
    this.onPage = onPage;
    this.graphEl = h("div", { class: "heap-graph" });
    this.pager = h("div", { class: "heap-pager" });
    this.list = h("div", { class: "heap-list" });
    clear(root, this.pager, this.graphEl, this.list);
    this.cy = cytoscape({
      container: this.graphEl,
      elements: [],
      layout: { name: "preset" }, // the panel may be hidden now: lay out in layout()
      style: [
        {
          selector: "node",
          style: {
            shape: "round-rectangle", label: "data(label)", "text-wrap": "wrap",
            "text-valign": "center", "text-halign": "center", "text-justification": "left",
            "font-family": "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace", "font-size": 10,
            width: "data(w)", height: "data(h)",
            "background-color": "data(fill)", "border-width": 2, "border-color": "data(border)", color: "data(ink)",
          },
        },
        { selector: "node.frame", style: { "background-color": "#fff6d5", "border-color": "#c9a227", shape: "rectangle" } },
        {
          selector: "edge",
          style: {
            width: 1.5, "curve-style": "bezier", "target-arrow-shape": "triangle",
            "line-color": "#5b7db1", "target-arrow-color": "#5b7db1", label: "data(label)",
            "font-size": 9, "text-background-color": "#ffffff", "text-background-opacity": 0.8,
            "text-background-padding": 1, color: "#345",
          },
        },
        { selector: "edge.offpage", style: { "line-style": "dashed", "line-color": "#aaa", "target-arrow-color": "#aaa" } },
      ],
    });
  }

  render(state) {
    const heap = state.heap || { nodes: [], total: 0, truncated: false };
    const offset = state.heapOffset || 0;
    this.renderPager(heap, offset);
    this.renderList(state.frames || [], heap);
    this.renderGraph(state.frames || [], heap);
  }

  renderPager(heap, offset) {
    const shown = heap.nodes.length;
    const label = heap.total === 0 ? "no objects reachable"
      : `objects ${offset + 1}–${offset + shown} of ${heap.total}`;
    clear(this.pager,
      h("button", { class: "small", disabled: offset === 0, title: "previous page",
        onclick: () => this.onPage(Math.max(0, offset - PAGE)) }, "‹"),
      h("span", {}, label),
      h("button", { class: "small", disabled: offset + shown >= heap.total, title: "next page",
        onclick: () => this.onPage(offset + PAGE) }, "›"),
      h("button", { class: "small", title: "fit the whole graph in the panel", onclick: () => this.fit(true) }, "fit"),
      h("span", { class: "legend" },
        h("span", { class: "sw", style: { background: MARK_FILL.white } }), "white",
        h("span", { class: "sw", style: { background: MARK_FILL.grey } }), "grey",
        h("span", { class: "sw", style: { background: MARK_FILL.black } }), "black",
        h("span", { class: "sw", style: { background: GEN_FILL.young, borderColor: GEN_BORDER.young } }), "young",
        h("span", { class: "sw", style: { background: GEN_FILL.old, borderColor: GEN_BORDER.old } }), "old"));
  }

  renderList(frames, heap) {
    clear(this.list, heap.nodes.map((n) => h("details", { class: "heap-obj", open: n.fields.length <= MAX_FIELDS },
      h("summary", {},
        nodeTitle(n),
        n.colour ? h("span", { class: `tag mark-${n.colour}` }, n.colour) : null,
        n.generation ? h("span", { class: `tag gen-${n.generation}` }, n.generation) : null),
      n.fields.map((f) => h("div", { class: "field" }, `${f.name} = ${valueText(f.value)}`)))));
  }

  renderGraph(frames, heap) {
    const onPage = new Set(heap.nodes.map((n) => String(n.id)));
    const elements = [];
    // A frame is drawn when it refers to an object on this page (the top
    // frame always): a deep recursion over ints would otherwise bury the
    // objects under a column of frames. The Frames panel lists them all.
    const refersHere = (f) => [...f.locals, ...(f.stack || [])].some((v) => v.kind === "ref" && onPage.has(String(v.ref)));
    frames.forEach((f, i) => {
      if (i > 0 && !refersHere(f)) return;
      elements.push({ group: "nodes", classes: "frame", data: sized({ id: `f${i}`, label: frameLabel(f), fill: "#fff6d5", border: "#c9a227", ink: "#222" }) });
    });
    for (const n of heap.nodes) {
      elements.push({
        group: "nodes",
        data: sized({
          id: `n${n.id}`, label: nodeLabel(n),
          fill: MARK_FILL[n.colour] || GEN_FILL[n.generation] || "#ffffff",
          border: GEN_BORDER[n.generation] || "#7a8ca8",
          ink: n.colour === "black" ? "#ffffff" : "#222222",
        }),
      });
    }
    const edge = (source, target, label, key) => {
      if (!onPage.has(String(target))) return; // its object is on another page
      elements.push({ group: "edges", data: { id: key, source, target: `n${target}`, label } });
    };
    frames.forEach((f, i) => {
      if (i > 0 && !refersHere(f)) return;
      f.locals.forEach((l, j) => {
        if (l.kind === "ref") edge(`f${i}`, l.ref, l.name, `f${i}-${j}`);
      });
      (f.stack || []).forEach((v, j) => {
        if (v.kind === "ref") edge(`f${i}`, v.ref, `stack[${j}]`, `f${i}-s${j}`);
      });
    });
    for (const n of heap.nodes) {
      n.fields.slice(0, MAX_FIELDS).forEach((fl, j) => {
        if (fl.value.kind === "ref") edge(`n${n.id}`, fl.value.ref, fl.name, `n${n.id}-${j}`);
      });
    }
    this.cy.batch(() => {
      this.cy.elements().remove();
      this.cy.add(elements);
    });
    this.layout();
  }

  layout() {
    // A hidden container has no size to lay out in: shown() calls again.
    if (this.cy.nodes().length === 0 || this.graphEl.offsetParent === null) return;
    this.cy.resize();
    // Layered, left to right (Python Tutor's picture): frames in the first
    // column, then each object one column right of what refers to it.
    this.cy.layout({
      name: "dagre", rankDir: "LR", nodeSep: 12, rankSep: 50, edgeSep: 6,
      fit: false, animate: false, ranker: "network-simplex",
    }).run();
    this.fit();
  }

  // Fit the whole graph when it stays readable; a big one is shown from its
  // top (the frames) at a readable zoom instead, to pan (drag) and zoom (wheel)
  // around, or fit anyway with the "fit" button.
  fit(all = false) {
    const cy = this.cy;
    cy.fit(undefined, 10);
    if (cy.zoom() > 1.2) { cy.zoom(1.2); cy.center(); }
    if (all || cy.zoom() >= MIN_ZOOM) return;
    cy.zoom(MIN_ZOOM);
    const bb = cy.elements().boundingBox();
    const roots = cy.nodes(".frame");
    const focus = roots.length ? roots.boundingBox() : bb;
    cy.pan({ x: 10 - bb.x1 * MIN_ZOOM, y: cy.height() / 2 - ((focus.y1 + focus.y2) / 2) * MIN_ZOOM });
  }

  // Called when the panel becomes visible: cytoscape measures its container.
  shown() {
    this.layout();
  }
}
