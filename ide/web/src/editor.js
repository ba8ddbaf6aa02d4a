// The source editor: CodeMirror 6 with the TinyLang/Lox modes, the checker's
// diagnostics as squiggles (debounced /api/check through @codemirror/lint),
// a breakpoint gutter (click a line number's left margin) and the line the
// execution view is stopped at.
import { basicSetup } from "codemirror";
import { EditorView, Decoration, gutter, GutterMarker, keymap } from "@codemirror/view";
import { EditorState, Compartment, StateEffect, StateField, RangeSet } from "@codemirror/state";
import { indentWithTab } from "@codemirror/commands";
import { linter, forceLinting } from "@codemirror/lint";
import { languageSupport } from "./langs.js";

// --- breakpoints -----------------------------------------------------------
const toggleBreakpoint = StateEffect.define({ map: (pos, mapping) => mapping.mapPos(pos) });
const clearBreakpoints = StateEffect.define();

const breakpointMarker = new (class extends GutterMarker {
  toDOM() {
    const dot = document.createElement("span");
    dot.className = "bp-dot";
    dot.textContent = "●";
    return dot;
  }
})();

const breakpointState = StateField.define({
  create: () => RangeSet.empty,
  update(set, tr) {
    set = set.map(tr.changes);
    for (const e of tr.effects) {
      if (e.is(clearBreakpoints)) set = RangeSet.empty;
      if (e.is(toggleBreakpoint)) {
        let has = false;
        set.between(e.value, e.value, () => { has = true; });
        set = set.update(has
          ? { filter: (from) => from !== e.value }
          : { add: [breakpointMarker.range(e.value)] });
      }
    }
    return set;
  },
});

function toggleAt(view, pos) {
  view.dispatch({ effects: toggleBreakpoint.of(view.lineBlockAt(pos).from) });
}

const breakpointGutter = [
  breakpointState,
  gutter({
    class: "cm-breakpoint-gutter",
    markers: (v) => v.state.field(breakpointState),
    initialSpacer: () => breakpointMarker,
    domEventHandlers: {
      mousedown(view, line) {
        toggleAt(view, line.from);
        return true;
      },
    },
  }),
];

// --- the line the debugger stands on ---------------------------------------
const setExecLine = StateEffect.define();
const execLineDeco = Decoration.line({ class: "cm-exec-line" });
const execLineState = StateField.define({
  create: () => Decoration.none,
  update(deco, tr) {
    deco = deco.map(tr.changes);
    for (const e of tr.effects) {
      if (e.is(setExecLine)) {
        deco = e.value === null ? Decoration.none : Decoration.set([execLineDeco.range(e.value)]);
      }
    }
    return deco;
  },
  provide: (f) => EditorView.decorations.from(f),
});

// --- diagnostics -------------------------------------------------------------
// Server positions are 1-based line/col; CodeMirror wants document offsets.
function offsetOf(doc, line, col) {
  const l = doc.line(Math.min(Math.max(line, 1), doc.lines));
  return Math.min(l.from + Math.max(col - 1, 0), l.to);
}

function toCodeMirror(doc, d) {
  const from = offsetOf(doc, d.line, d.col);
  let to = d.end_line ? offsetOf(doc, d.end_line, d.end_col) : from;
  if (to <= from) {
    // A point diagnostic: underline the rest of the word (or one character)
    // so the squiggle is visible.
    const line = doc.lineAt(from);
    const rest = line.text.slice(from - line.from).match(/^\w+/);
    to = Math.min(from + (rest ? rest[0].length : 1), line.to);
  }
  return { from, to: Math.max(to, from), severity: d.severity === "warning" ? "warning" : "error", message: d.message };
}

export class SourceEditor {
  // onDiagnostics(list) is called with the checker's diagnostics (server
  // form) each time a check of the current text completes; onChange() on
  // every edit.
  constructor(parent, { check, onDiagnostics, onChange, delay = 350 }) {
    this.language = new Compartment();
    this.lang = "tinylang";
    const lint = linter(async (view) => {
      const doc = view.state.doc;
      let diags;
      try {
        diags = (await check(this.lang, doc.toString())).diagnostics;
      } catch (err) {
        diags = [{ line: 1, col: 1, end_line: 1, end_col: 1, severity: "error", message: err.message }];
      }
      if (view.state.doc !== doc) return []; // stale: a newer check is on its way
      onDiagnostics(diags);
      return diags.map((d) => toCodeMirror(doc, d));
    }, { delay });
    this.view = new EditorView({
      parent,
      state: EditorState.create({
        doc: "",
        extensions: [
          breakpointGutter,
          basicSetup,
          keymap.of([indentWithTab]),
          this.language.of(languageSupport("tinylang")),
          execLineState,
          lint,
          EditorView.updateListener.of((u) => { if (u.docChanged) onChange(); }),
        ],
      }),
    });
  }

  get source() {
    return this.view.state.doc.toString();
  }

  setSource(source, language) {
    this.setLanguage(language);
    this.view.dispatch({
      changes: { from: 0, to: this.view.state.doc.length, insert: source },
      effects: [clearBreakpoints.of(null), setExecLine.of(null)],
    });
  }

  setLanguage(language) {
    if (language === this.lang) return;
    this.lang = language;
    this.view.dispatch({ effects: this.language.reconfigure(languageSupport(language)) });
    forceLinting(this.view);
  }

  // 1-based line numbers with a breakpoint, ascending.
  breakpoints() {
    const lines = [];
    const doc = this.view.state.doc;
    const iter = this.view.state.field(breakpointState).iter();
    for (; iter.value !== null; iter.next()) lines.push(doc.lineAt(iter.from).number);
    return lines;
  }

  toggleBreakpointLine(line) {
    const doc = this.view.state.doc;
    if (line >= 1 && line <= doc.lines) toggleAt(this.view, doc.line(line).from);
  }

  showExecLine(line) {
    const doc = this.view.state.doc;
    if (!line || line < 1 || line > doc.lines) {
      this.view.dispatch({ effects: setExecLine.of(null) });
      return;
    }
    const from = doc.line(line).from;
    this.view.dispatch({
      effects: [setExecLine.of(from), EditorView.scrollIntoView(from, { y: "nearest" })],
    });
  }

  goTo(line, col) {
    const pos = offsetOf(this.view.state.doc, line, col);
    this.view.dispatch({ selection: { anchor: pos }, scrollIntoView: true });
    this.view.focus();
  }
}
