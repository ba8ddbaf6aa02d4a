// The execution view: a recorded run (POST /api/run) explored with time
// travel. Buttons move by source line through the server (`move`); the
// timeline slider moves by instruction (`state?step=K`). Every panel is
// redrawn from the one state the server returns for the current step, so the
// stack, heap, fibers, GC and output always agree with the slider.
import { h, clear } from "./dom.js";
import { HeapView, PAGE } from "./heap.js";

const ACTIONS = [
  // [testid, action, label, title, key]
  ["reverse-continue", "reverse_continue", "◀◀ Reverse", "Reverse continue: back to the previous breakpoint (Shift+F5)"],
  ["step-back", "step_back", "↶ Back", "Step back one line (Shift+F10)"],
  ["step-forward", "step_over", "↷ Over", "Step over: the next line (F10)"],
  ["step-into", "step_into", "↓ Into", "Step into the call on this line (F11)"],
  ["step-out", "step_out", "↑ Out", "Step out of this function (Shift+F11)"],
  ["continue", "continue", "Continue ▶▶", "Continue to the next breakpoint (F5)"],
];

function value(v) {
  return v ? v.text : "?";
}

function formatBytes(n) {
  if (n === undefined || n === null) return "–";
  if (n < 10 * 1024) return `${n} B`;
  return `${(n / 1024).toFixed(1)} KiB`;
}

export class ExecutionView {
  constructor(root, { api, editor, getProgram, onStatus }) {
    this.api = api;
    this.editor = editor;
    this.getProgram = getProgram;
    this.onStatus = onStatus;
    this.run = null; // the /api/run answer
    this.step = 0;
    this.heapOffset = 0;
    this.inflight = null; // the state request under way (see goto)
    this.pending = null; // the step to show once it returns
    this.stale = false;

    this.buttons = {};
    const bar = h("div", { class: "toolbar" },
      ACTIONS.map(([testid, action, label, title]) => {
        const b = h("button", { "data-testid": testid, title, disabled: true, onclick: () => this.move(action) }, label);
        this.buttons[action] = b;
        return b;
      }),
      this.statusEl = h("span", { class: "exec-status", "data-testid": "run-status" }, "Press Run to record a run of the program."));
    this.timeline = h("input", {
      type: "range", min: 0, max: 0, value: 0, step: 1, disabled: true,
      "data-testid": "timeline", "aria-label": "timeline (instruction)",
    });
    this.timeline.addEventListener("input", () => this.goto(Number(this.timeline.value)));
    this.marks = h("div", { class: "timeline-marks" });
    this.posEl = h("span", { class: "timeline-pos", "data-testid": "position" }, "step 0 / 0");

    const panel = (title, testid, extra) => {
      const body = h("div", { class: `panel-body ${testid}`, "data-testid": testid });
      return [h("section", { class: `panel panel-${testid}` }, h("h3", {}, title, extra || null), body), body];
    };
    let stackPanel, heapPanel, fibersPanel, gcPanel, outputPanel;
    [stackPanel, this.stackEl] = panel("Frames", "stack");
    [heapPanel, this.heapEl] = panel("Heap", "heap");
    [fibersPanel, this.fibersEl] = panel("Fibers", "fibers");
    [gcPanel, this.gcEl] = panel("GC", "gc");
    [outputPanel, this.outputEl] = panel("Output", "output");
    this.heap = new HeapView(this.heapEl, { onPage: (offset) => { this.heapOffset = offset; this.goto(this.step); } });

    clear(root,
      bar,
      h("div", { class: "timeline-row" },
        h("div", { class: "timeline-track" }, this.timeline, this.marks), this.posEl),
      this.grid = h("div", { class: "exec-grid" },
        h("div", { class: "exec-col" }, stackPanel, fibersPanel, gcPanel),
        h("div", { class: "exec-col wide" }, heapPanel, outputPanel)));
    this.renderEmpty();
  }

  renderEmpty() {
    this.stackEl.textContent = "No run yet.";
    this.fibersEl.textContent = "";
    this.gcEl.textContent = "";
    this.outputEl.textContent = "";
    this.heap.render({ frames: [], heap: { nodes: [], total: 0, truncated: false } });
  }

  setEnabled(on) {
    for (const b of Object.values(this.buttons)) b.disabled = !on;
    this.timeline.disabled = !on;
  }

  markStale() {
    if (this.run && !this.stale) {
      this.stale = true;
      this.statusEl.textContent = "The source changed since this run: press Run to record it again.";
    }
  }

  async start() {
    const { language, source } = this.getProgram();
    this.statusEl.textContent = "Running…";
    this.setEnabled(false);
    let run;
    try {
      run = await this.api.run(language, source);
    } catch (err) {
      this.statusEl.textContent = err.message;
      this.onStatus(err.message);
      return null;
    }
    this.run = run;
    this.stale = false;
    this.heapOffset = 0;
    this.timeline.max = String(run.steps);
    this.posEl.textContent = `step … / ${run.steps}`; // until the first state arrives
    this.renderMarks();
    this.statusEl.textContent = this.summary();
    this.statusEl.title = this.statusEl.textContent; // the line may be cut short
    const errors = (run.diagnostics || []).filter((d) => d.severity === "error");
    if (errors.length && !run.steps) {
      this.renderEmpty();
      this.posEl.textContent = "step 0 / 0";
      this.outputEl.textContent = errors.map((d) => `${d.line}:${d.col}: ${d.message}`).join("\n");
      return run;
    }
    this.setEnabled(true);
    // A fresh run opens at its end (the whole output shown, as a plain run
    // prints it); stepping back or scrubbing goes anywhere in it.
    await this.goto(run.steps);
    return run;
  }

  summary() {
    const run = this.run;
    const base = `${run.steps} instructions, ${(run.gc || []).length} collections, ${run.fibers_seen || 1} fiber(s)`;
    if (run.status === "ok") return `Finished: ${base}.`;
    const e = run.error;
    const where = e && e.line ? ` at ${e.line}:${e.col}` : "";
    const what = run.status === "limit" ? "Stopped by a limit" : "Error";
    const message = e ? e.message.replace(/^error: /, "") : "the program failed";
    return `${what}${where}: ${message} (${base})`;
  }

  renderMarks() {
    const run = this.run;
    const total = Math.max(run.steps, 1);
    clear(this.marks, (run.gc || []).map((c) => h("span", {
      class: `gc-mark gc-${c.kind}`, style: { left: `${(100 * c.step) / total}%` },
      title: `step ${c.step}: ${c.kind} collection, ${c.pause_ms} ms, ${c.freed} freed`,
    })));
  }

  async move(action) {
    if (!this.run) return;
    let answer;
    try {
      answer = await this.api.move(this.run.session, this.step, action, this.editor.breakpoints());
    } catch (err) {
      this.statusEl.textContent = err.message;
      return;
    }
    this.lastReason = answer.reason;
    await this.goto(answer.step);
  }

  // Show the state before instruction `step`. While a request is in flight
  // (each may replay the run on the server) further calls only note the
  // latest target, fetched when the current one returns: dragging the slider
  // sends a few requests, not one per pixel, and the last position wins.
  async goto(step) {
    if (!this.run) return;
    step = Math.max(0, Math.min(step, this.run.steps));
    this.step = step;
    this.timeline.value = String(step);
    if (this.inflight) {
      this.pending = step;
      return this.inflight;
    }
    this.inflight = this.fetchState(step);
    // A state far into a long run takes a moment (the server replays to it):
    // dim the panels meanwhile, so stale ones do not pass for current.
    const dim = setTimeout(() => this.grid.classList.add("loading"), 250);
    try {
      await this.inflight;
    } finally {
      clearTimeout(dim);
      this.grid.classList.remove("loading");
      this.inflight = null;
    }
    if (this.pending !== null && this.pending !== undefined) {
      const next = this.pending;
      this.pending = null;
      await this.goto(next);
    }
  }

  async fetchState(step) {
    const run = this.run;
    let state;
    try {
      state = await this.api.state(run.session, step, PAGE, this.heapOffset);
    } catch (err) {
      this.statusEl.textContent = err.message;
      return;
    }
    // A newer run, or a newer target already queued, makes this one stale.
    if (run !== this.run || (this.pending !== null && this.pending !== undefined)) return;
    state.heapOffset = this.heapOffset;
    this.render(state);
  }

  render(state) {
    const atEnd = state.step >= this.run.steps;
    const reason = this.lastReason ? ` (${this.lastReason})` : "";
    this.lastReason = null;
    this.posEl.textContent = `step ${state.step} / ${this.run.steps}` +
      (state.line ? `, line ${state.line}` : "") + (atEnd ? ", end" : "") + reason;
    if (!this.stale) this.editor.showExecLine(atEnd ? null : state.line);
    this.renderStack(state);
    this.heap.render(state);
    this.renderFibers(state);
    this.renderGc(state);
    let out = state.output || "";
    if (atEnd && this.run.status !== "ok" && this.run.error) {
      out += (out && !out.endsWith("\n") ? "\n" : "") + this.summary().replace(/ \(.*\)$/, "");
    }
    this.outputEl.textContent = out;
    this.outputEl.scrollTop = this.outputEl.scrollHeight;
  }

  renderStack(state) {
    const frames = state.frames || [];
    if (frames.length === 0) {
      this.stackEl.textContent = state.step >= this.run.steps ? "The program has finished." : "No frames.";
      return;
    }
    clear(this.stackEl, frames.map((f, i) => h("div", {
      class: `frame${i === 0 ? " top" : ""}`, title: "click: show this line in the editor",
      onclick: () => this.editor.goTo(f.line, f.col || 1),
    },
      h("div", { class: "frame-head" }, `${f.function}:${f.line}`, h("span", { class: "muted" }, `  col ${f.col}, pc ${f.pc}`)),
      f.locals.length
        ? f.locals.map((l) => h("div", { class: "local" }, `${l.name} = ${value(l)}`))
        : h("div", { class: "muted" }, "no locals"),
      h("div", { class: "opstack" }, h("span", { class: "muted" }, "stack: "),
        f.stack.length ? `[${f.stack.map(value).join(", ")}]` : "[]"))));
  }

  renderFibers(state) {
    const fibers = state.fibers || [];
    if (fibers.length === 0) { this.fibersEl.textContent = "No fibers."; return; }
    const total = state.fibers_total ?? fibers.length;
    clear(this.fibersEl,
      total > fibers.length ? h("div", { class: "muted" }, `${total} fibers, the first ${fibers.length} listed`) : null,
      h("table", {},
      h("tr", {}, ["id", "name", "state", "waiting on", "at"].map((t) => h("th", {}, t))),
      fibers.map((f) => h("tr", { class: `fiber-${f.state}` },
        h("td", {}, String(f.id)), h("td", {}, f.name), h("td", {}, f.state),
        h("td", {}, f.waiting_on || ""),
        h("td", {}, f.top ? `${f.top.function}:${f.top.line}` : "")))));
  }

  renderGc(state) {
    const gc = state.gc || {};
    const done = (this.run.gc || []).filter((c) => c.step < state.step);
    clear(this.gcEl,
      h("div", {}, `mode: ${gc.mode || "–"}   phase: ${gc.phase || "–"}   collections: ${gc.collections ?? done.length}`),
      h("div", {}, `live: ${formatBytes(gc.live_bytes)}   young: ${formatBytes(gc.young_bytes)}   old: ${formatBytes(gc.old_bytes)}`),
      done.length
        ? h("div", { class: "gc-list" }, done.slice(-6).map((c) =>
          h("div", {}, `step ${c.step}: ${c.kind}, ${c.pause_ms} ms, freed ${c.freed}`)))
        : h("div", { class: "muted" }, "no collection yet at this step"));
  }

  shown() {
    this.heap.shown();
  }
}
