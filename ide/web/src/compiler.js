// The compiler view (Compiler Explorer's layout): the source beside its
// bytecode, one colour per source line on both sides; hovering a line on
// either side highlights its partners on the other. IR passes, when the
// server sends them, below in a pass selector.
import { h, clear, lineColour } from "./dom.js";

export class CompilerView {
  constructor(root, { compile, onError, onLine }) {
    this.root = root;
    this.compile = compile;
    this.onError = onError;
    this.sourcePane = h("div", { class: "cv-source", "aria-label": "source" });
    this.codePane = h("div", { class: "cv-code", "data-testid": "bytecode", "aria-label": "bytecode" });
    this.irPane = h("div", { class: "cv-ir" });
    clear(root,
      h("div", { class: "cv-split" }, this.sourcePane, this.codePane),
      this.irPane);
    this.codePane.textContent = "Compile the program to see its bytecode.";
    // Hover linking: one delegated handler per pane, by data-line.
    for (const pane of [this.sourcePane, this.codePane]) {
      pane.addEventListener("mouseover", (e) => {
        const row = e.target.closest("[data-line]");
        this.highlight(row ? Number(row.dataset.line) : null);
      });
      pane.addEventListener("mouseleave", () => this.highlight(null));
      // A click takes the editor to that line.
      pane.addEventListener("click", (e) => {
        const row = e.target.closest("[data-line]");
        if (row && onLine) onLine(Number(row.dataset.line));
      });
    }
  }

  highlight(line) {
    for (const el of this.root.querySelectorAll(".hl")) el.classList.remove("hl");
    if (line === null) return;
    for (const el of this.root.querySelectorAll(`[data-line="${line}"]`)) el.classList.add("hl");
    // Bring the partner of the hovered row into view on the other side.
    const first = this.codePane.querySelector(`[data-line="${line}"]`);
    const src = this.sourcePane.querySelector(`[data-line="${line}"]`);
    if (first && !isVisible(first, this.codePane)) first.scrollIntoView({ block: "nearest" });
    if (src && !isVisible(src, this.sourcePane)) src.scrollIntoView({ block: "nearest" });
  }

  async refresh(language, source) {
    this.codePane.textContent = "Compiling…";
    let result;
    try {
      result = await this.compile(language, source);
    } catch (err) {
      this.codePane.textContent = err.message;
      this.onError(err.message);
      return;
    }
    this.render(source, result);
  }

  render(source, result) {
    const lines = source.split("\n");
    const used = new Set();
    for (const fn of result.functions || []) for (const ins of fn.instructions) used.add(ins.line);
    clear(this.sourcePane, lines.map((text, i) => {
      const n = i + 1;
      return h("div", {
        class: "cv-row", "data-line": used.has(n) ? n : null,
        style: used.has(n) ? { background: lineColour(n) } : null,
      }, h("span", { class: "ln" }, String(n)), h("span", { class: "txt" }, text || " "));
    }));
    if (result.diagnostics && result.diagnostics.some((d) => d.severity === "error")) {
      clear(this.codePane, h("div", { class: "cv-error" },
        "The program does not compile:",
        result.diagnostics.map((d) => h("div", {}, `${d.line}:${d.col}: ${d.severity}: ${d.message}`))));
      clear(this.irPane);
      return;
    }
    clear(this.codePane, (result.functions || []).map((fn) => h("div", { class: "cv-fn" },
      h("div", { class: "cv-fn-head" }, `fn ${fn.name}`, h("span", { class: "muted" }, `  line ${fn.line}`)),
      fn.instructions.map((ins) => h("div", {
        class: "cv-row", "data-line": ins.line, style: { background: lineColour(ins.line) },
        title: `line ${ins.line}:${ins.col}`,
      },
      h("span", { class: "pc" }, String(ins.pc).padStart(4)),
      h("span", { class: "op" }, ins.text || `${ins.op} ${(ins.operands || []).join(" ")}`),
      h("span", { class: "ln right" }, String(ins.line)))))));
    this.renderIr(result.ir || []);
  }

  renderIr(ir) {
    if (ir.length === 0) { clear(this.irPane); return; }
    const pre = h("pre", { class: "cv-ir-text" });
    const fnSel = h("select", { "aria-label": "IR function" },
      ir.map((f, i) => h("option", { value: i }, f.function)));
    const passSel = h("select", { "aria-label": "IR pass" });
    const fillPasses = () => {
      const f = ir[Number(fnSel.value)];
      // Passes that changed nothing are marked, so the interesting ones stand out.
      clear(passSel, f.passes.map((p, i) => h("option", { value: i }, p.changed === false ? `${p.name} (no change)` : p.name)));
      show();
    };
    const show = () => {
      const f = ir[Number(fnSel.value)];
      const p = f.passes[Number(passSel.value)] || f.passes[0];
      pre.textContent = p ? p.text : "";
    };
    fnSel.addEventListener("change", fillPasses);
    passSel.addEventListener("change", show);
    clear(this.irPane, h("div", { class: "cv-ir-bar", "data-testid": "ir" }, "IR of ", fnSel, " after ", passSel), pre);
    fillPasses();
  }
}

function isVisible(el, container) {
  const a = el.getBoundingClientRect();
  const b = container.getBoundingClientRect();
  return a.top >= b.top && a.bottom <= b.bottom;
}
