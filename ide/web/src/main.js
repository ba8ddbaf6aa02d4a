// The TinyVM IDE page: the editor on the left, three views on the right
// (compiler, execution with time travel, profile). It talks to the server
// only through api.js (docs/ide.md, "HTTP API").
import "./style.css";
import { api } from "./api.js";
import { h, clear } from "./dom.js";
import { SourceEditor } from "./editor.js";
import { CompilerView } from "./compiler.js";
import { ExecutionView } from "./exec.js";
import { ProfileView } from "./profile.js";
import { encodePermalink, decodePermalink } from "./permalink.js";

const DEFAULT_SOURCE = `// Welcome to the TinyVM IDE. Edit, then Run (Ctrl+Enter).
fn fib(n: int) -> int {
  if n < 2 { return n }
  return fib(n - 1) + fib(n - 2)
}
print(fib(10))
`;

class App {
  constructor(root) {
    this.runSession = null;
    this.profiledSession = null;

    this.languageSel = h("select", { "data-testid": "language", "aria-label": "language",
      onchange: () => this.editor.setLanguage(this.languageSel.value) },
    h("option", { value: "tinylang" }, "TinyLang"), h("option", { value: "lox" }, "Lox"));
    this.examplesSel = h("select", { "data-testid": "examples", "aria-label": "examples",
      onchange: () => this.loadExample(this.examplesSel.value) },
    h("option", { value: "" }, "Examples…"));
    this.permalinkOut = h("input", { class: "permalink-url", readonly: true, "data-testid": "permalink-url",
      "aria-label": "permalink", hidden: true });
    this.statusEl = h("div", { class: "statusbar", "data-testid": "status" });
    this.diagEl = h("div", { class: "diagnostics", "data-testid": "diagnostics" }, "Checking…");
    const editorHost = h("div", { class: "editor-host", "data-testid": "editor" });

    this.tabs = {};
    this.views = {};
    const tab = (name, label, testid) => {
      const b = h("button", { class: "tab", "data-testid": testid, onclick: () => this.show(name) }, label);
      this.tabs[name] = b;
      this.views[name] = h("div", { class: `view view-${name}`, "data-testid": `${name}-view`, hidden: true });
      return b;
    };

    clear(root,
      h("header", {},
        h("span", { class: "brand" }, "TinyVM IDE"),
        this.languageSel, this.examplesSel,
        h("button", { class: "primary", "data-testid": "run", title: "Run and record (Ctrl+Enter)", onclick: () => this.run() }, "▶ Run"),
        h("button", { "data-testid": "permalink", title: "Put the program in the URL and copy the link", onclick: () => this.permalink() }, "Permalink"),
        this.permalinkOut,
        h("nav", { class: "tabs" },
          tab("compiler", "Compiler", "compiler-tab"),
          tab("execution", "Execution", "execution-tab"),
          tab("profile", "Profile", "profile"))),
      h("main", {},
        h("div", { class: "left" }, editorHost, h("h3", {}, "Problems"), this.diagEl),
        h("div", { class: "right" }, Object.values(this.views))),
      this.statusEl);

    this.editor = new SourceEditor(editorHost, {
      check: api.check,
      onDiagnostics: (d) => this.renderDiagnostics(d),
      onChange: () => this.changed(),
    });
    this.compiler = new CompilerView(this.views.compiler, {
      compile: api.compile, onError: (m) => this.status(m), onLine: (line) => this.editor.goTo(line, 1),
    });
    this.exec = new ExecutionView(this.views.execution, {
      api, editor: this.editor, getProgram: () => this.program(), onStatus: (m) => this.status(m),
    });
    this.profile = new ProfileView(this.views.profile, {});
    this.active = null;

    document.addEventListener("keydown", (e) => this.key(e));
    window.addEventListener("hashchange", () => this.fromHash());
    window.addEventListener("resize", () => this.exec.shown());
    // For the browser tests and the curious: the app object itself.
    window.tvmIde = this;
  }

  program() {
    return { language: this.languageSel.value, source: this.editor.source };
  }

  status(message) {
    this.statusEl.textContent = message;
  }

  async init() {
    let info = null;
    try {
      info = await api.info();
    } catch (err) {
      this.status(err.message);
    }
    if (info) {
      for (const ex of info.examples || []) {
        this.examplesSel.append(h("option", { value: ex.name }, `${ex.name} (${ex.language})`));
      }
      const lim = info.limits || {};
      this.status(`TinyVM ${info.version} · limits: fuel ${lim.fuel ?? "–"}, memory ${lim.memory ?? "–"}, ` +
        `timeout ${lim.timeout ?? "–"} s · capabilities: ${(info.allow || []).join(", ") || "none"}`);
    }
    if (!(await this.fromHash())) {
      const initial = info && info.initial;
      this.setProgram(initial ? initial.language : "tinylang", initial ? initial.source : DEFAULT_SOURCE);
    }
    this.show("execution");
    document.body.dataset.ready = "true";
  }

  async fromHash() {
    if (!location.hash) return false;
    try {
      const prog = await decodePermalink(location.hash);
      if (!prog) return false;
      this.setProgram(prog.language, prog.source);
      return true;
    } catch (err) {
      this.status(err.message);
      return false;
    }
  }

  setProgram(language, source) {
    this.languageSel.value = language;
    this.editor.setSource(source, language);
  }

  async loadExample(name) {
    if (!name) return;
    try {
      const ex = await api.example(name);
      this.setProgram(ex.language, ex.source);
      this.status(`Loaded example ${ex.name}.`);
    } catch (err) {
      this.status(err.message);
    }
    this.examplesSel.value = "";
  }

  async permalink() {
    const { language, source } = this.program();
    const hash = await encodePermalink(language, source);
    history.replaceState(null, "", hash);
    const url = location.href;
    this.permalinkOut.value = url;
    this.permalinkOut.hidden = false;
    this.permalinkOut.select();
    try {
      await navigator.clipboard.writeText(url);
      this.status("Permalink copied to the clipboard.");
    } catch {
      this.status("Permalink in the address bar (copy it from there).");
    }
  }

  renderDiagnostics(list) {
    if (list.length === 0) {
      clear(this.diagEl, h("span", { class: "ok" }, "No problems."));
      return;
    }
    clear(this.diagEl, list.map((d) => h("div", {
      class: `diag ${d.severity}`, onclick: () => this.editor.goTo(d.line, d.col),
    }, h("span", { class: "pos" }, `${d.line}:${d.col}`), ` ${d.severity}: `, h("span", { class: "msg" }, d.message))));
  }

  changed() {
    this.exec.markStale();
    this.permalinkOut.hidden = true;
    if (this.active === "compiler") {
      clearTimeout(this.compileTimer);
      this.compileTimer = setTimeout(() => this.compiler.refresh(this.languageSel.value, this.editor.source), 500);
    }
  }

  show(name) {
    this.active = name;
    for (const [n, view] of Object.entries(this.views)) {
      view.hidden = n !== name;
      this.tabs[n].classList.toggle("active", n === name);
    }
    if (name === "compiler") this.compiler.refresh(this.languageSel.value, this.editor.source);
    if (name === "execution") this.exec.shown();
    if (name === "profile") this.loadProfile();
  }

  async run() {
    if (this.active === "compiler") this.show("execution");
    const run = await this.exec.start();
    if (run && this.active === "profile") this.loadProfile();
  }

  async loadProfile() {
    if (!this.exec.run || this.exec.stale) {
      const run = await this.exec.start();
      if (!run) return;
    }
    const session = this.exec.run.session;
    if (this.profiledSession === session) { this.profile.shown(); return; }
    this.profiledSession = session;
    await this.profile.load(api, session);
  }

  key(e) {
    if ((e.ctrlKey || e.metaKey) && e.key === "Enter") { e.preventDefault(); this.run(); return; }
    const map = {
      F5: e.shiftKey ? "reverse_continue" : "continue",
      F10: e.shiftKey ? "step_back" : "step_over",
      F11: e.shiftKey ? "step_out" : "step_into",
    };
    if (map[e.key] && this.exec.run) { e.preventDefault(); this.exec.move(map[e.key]); }
  }
}

new App(document.getElementById("app")).init();
