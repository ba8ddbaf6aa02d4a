"""The web IDE in a real browser: Playwright (Python) drives Debian's Chromium
headless against a real `tvm ide --no-browser --port 0` subprocess, through
the page's data-testid hooks (docs/ide.md), as a user would: type, click,
scrub. Each scenario saves a screenshot into $TVM_IDE_SCREENSHOTS (default: a
temporary directory), the artifacts docs/img/ide/ is taken from.

Needs the `ide` and `ide-test` extras and /usr/bin/chromium (or
$TVM_CHROMIUM). Without them the module skips, except in CI's IDE step (TVM_REQUIRE_IDE=1, set by
.ci/run), where a missing piece fails instead, as the node-driven tests do.
TVM_IDE_URL=http://... runs the scenarios against an IDE already running.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

IN_CI = os.environ.get("TVM_REQUIRE_IDE") == "1"
CHROMIUM = os.environ.get("TVM_CHROMIUM", "/usr/bin/chromium")

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # the ide-test extra is not installed
    sync_playwright = None
try:
    import starlette  # noqa: F401
    import uvicorn  # noqa: F401

    HAVE_IDE = True
except ImportError:
    HAVE_IDE = False

_missing = [
    what
    for what, ok in (
        ("playwright (pip install 'tinyvm[ide-test]')", sync_playwright is not None),
        (
            "the ide extra (pip install 'tinyvm[ide]')",
            HAVE_IDE or "TVM_IDE_URL" in os.environ,
        ),
        (f"chromium at {CHROMIUM} (apt-get install chromium)", Path(CHROMIUM).exists()),
    )
    if not ok
]
# In CI a missing piece is a failure (the fixtures below raise), never a skip.
pytestmark = pytest.mark.skipif(
    bool(_missing) and not IN_CI, reason="needs " + ", ".join(_missing)
)

# Chromium flags that work on a machine with no network (docs/ide.md). Playwright
# itself adds --headless and a fresh temporary profile (--user-data-dir).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1400, "height": 860}
URL_LINE = re.compile(r"TinyVM IDE: (http://127\.0\.0\.1:\d+/)")
TVM = [sys.executable, "-c", "from tinyvm.cli.main import tvm_main; tvm_main()"]
REPO = Path(__file__).resolve().parents[2]


# --- fixtures ------------------------------------------------------------------
@contextlib.contextmanager
def tvm_ide(*args: str):
    """Run `tvm ide --no-browser --port 0 ARGS` and yield the URL it prints."""
    proc = subprocess.Popen(
        [*TVM, "ide", "--no-browser", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tempfile.gettempdir(),
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:  # keeps the pipe drained for the server's whole life
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    seen = []
    url = None
    try:
        while url is None:
            line = lines.get(timeout=60)
            if line is None:
                break
            seen.append(line)
            m = URL_LINE.search(line)
            if m:
                url = m.group(1)
        if url is None:
            pytest.fail("tvm ide printed no URL:\n" + "".join(seen))
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def ide_url():
    """A real `tvm ide --no-browser --port 0`, its URL read from its stdout."""
    if "TVM_IDE_URL" in os.environ:
        yield os.environ["TVM_IDE_URL"].rstrip("/") + "/"
        return
    if _missing:
        pytest.fail("the browser tests need " + ", ".join(_missing))
    with tvm_ide() as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    if sync_playwright is None:
        pytest.fail("the browser tests need playwright: pip install 'tinyvm[ide-test]'")
    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield b
        b.close()


@pytest.fixture(scope="module")
def shots():
    """Where screenshots go: $TVM_IDE_SCREENSHOTS, else a temporary directory."""
    d = os.environ.get("TVM_IDE_SCREENSHOTS")
    if d:
        Path(d).mkdir(parents=True, exist_ok=True)
        yield Path(d)
    else:
        tmp = tempfile.mkdtemp(prefix="tvm-ide-shots-")
        yield Path(tmp)
        shutil.rmtree(tmp, ignore_errors=True)


class Ide:
    """One page of the IDE, with the moves a user makes."""

    def __init__(self, page, url: str, shots: Path) -> None:
        self.page = page
        self.url = url
        self.shots = shots
        self.errors: list[str] = []
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        if os.environ.get("DBG"):
            page.on("request", lambda r: print(">>", r.url, flush=True))
            page.on("requestfinished", lambda r: print("<<", r.url, flush=True))

    def open(self, url: str | None = None) -> Ide:
        self.page.goto(url or self.url)
        self.page.wait_for_selector(
            "body[data-ready=true]", state="attached", timeout=30_000
        )
        return self

    def tid(self, name: str):
        return self.page.get_by_test_id(name)

    def text(self, name: str) -> str:
        return self.tid(name).inner_text()

    def source(self) -> str:
        return self.page.evaluate("window.tvmIde.editor.source")

    def replace_source(self, text: str) -> None:
        """Select all in the editor and paste `text` (one input event, as a
        paste is: no auto-indent or bracket closing on the way)."""
        content = self.page.locator("[data-testid=editor] .cm-content")
        content.click()
        self.page.keyboard.press("Control+a")
        self.page.keyboard.insert_text(text)

    def run(self, source: str | None = None) -> None:
        if source is not None:
            self.replace_source(source)
        self.tid("execution-tab").click()
        self.tid("run").click()
        expect(self.tid("run-status")).to_contain_text(
            re.compile(r"Finished|Error|Stopped"), timeout=60_000
        )
        # The view then opens the run at its end: wait for that state.
        expect(self.tid("position")).to_have_text(
            re.compile(r"^step (\d+) / \1\b"), timeout=60_000
        )

    def position(self) -> str:
        return self.text("position")

    def at(self, line: int, reason: str | None = None) -> None:
        """Wait until the execution view stands at `line` (and the move's reason)."""
        pattern = rf", line {line}\b" + (rf".*\({reason}\)" if reason else "")
        expect(self.tid("position")).to_have_text(re.compile(pattern), timeout=20_000)

    def step_no(self) -> int:
        return int(re.match(r"step (\d+)", self.position()).group(1))

    def move(self, testid: str) -> None:
        before = self.position()
        self.tid(testid).click()
        # The position text changes with every move that goes anywhere; a move
        # that cannot (at the end already) leaves it: give it a moment then.
        try:
            expect(self.tid("position")).not_to_have_text(before, timeout=10_000)
        except AssertionError:
            pass

    def toggle_breakpoint(self, line: int) -> None:
        gutter = self.page.locator(".cm-breakpoint-gutter").bounding_box()
        row = (
            self.page.locator("[data-testid=editor] .cm-line")
            .nth(line - 1)
            .bounding_box()
        )
        self.page.mouse.click(
            gutter["x"] + gutter["width"] / 2, row["y"] + row["height"] / 2
        )

    def session(self) -> str:
        return self.page.evaluate("window.tvmIde.exec.run.session")

    def api_state(self, step: int) -> dict:
        r = self.page.request.get(
            f"{self.url}api/session/{self.session()}/state?step={step}"
        )
        assert r.ok, r.text()
        return r.json()

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(self.shots / f"{name}.png"))


@pytest.fixture
def ide(browser, ide_url, shots):
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(20_000)
    i = Ide(page, ide_url, shots).open()
    yield i
    context.close()
    assert i.errors == [], f"the page raised: {i.errors}"


# --- programs ------------------------------------------------------------------
# Lines 1-4 a function; 6-10 the module; line 8 calls add twice (a breakpoint
# at 2 is hit twice).
CALLS = """\
fn add(a: int, b: int) -> int {
  let s = a + b
  return s
}

var xs = [1, 2]
let p = {name: "pair", items: xs}
let t = add(3, 4) + add(5, 6)
xs.push(t)
print("sum ${t}")
print(xs)
"""
CALLS_OUTPUT = "sum 18\n[1, 2, 18]\n"

FIB = """\
fn fib(n: int) -> int {
  if n < 2 { return n }
  return fib(n - 1) + fib(n - 2)
}
var total = 0
for i in 0..12 {
  total += fib(i)
}
print("total ${total}")
"""


# --- scenarios -----------------------------------------------------------------
def test_diagnostics_appear_with_the_checkers_messages_and_clear(ide):
    ide.replace_source("let x = 1\n")
    expect(ide.tid("diagnostics")).to_have_text("No problems.")
    # Typed key by key, as a user types: the check runs once the typing pauses.
    ide.page.keyboard.type('print(y)\nlet z: int = "s"')
    diags = ide.tid("diagnostics")
    expect(diags).to_contain_text("2:7 error: undeclared name 'y'")
    expect(diags).to_contain_text("3:14 error: variable 'z': expected int, got string")
    # The squiggles: CodeMirror's lint marks, with the message on hover.
    expect(ide.page.locator(".cm-lintRange-error")).to_have_count(2)
    # Hovering a squiggle shows its message.
    ide.page.locator(".cm-lintRange-error").last.hover()
    expect(ide.page.locator(".cm-tooltip-lint")).to_contain_text(
        "variable 'z': expected int, got string"
    )
    ide.shot("diagnostics")
    # Fix both: the list clears, and so do the squiggles.
    ide.replace_source("let x = 1\nprint(x)\nlet z: int = 2\n")
    expect(diags).to_have_text("No problems.")
    expect(ide.page.locator(".cm-lintRange-error")).to_have_count(0)


def test_run_shows_the_programs_output(ide):
    ide.run(CALLS)
    expect(ide.tid("output")).to_have_text(CALLS_OUTPUT)
    expect(ide.tid("run-status")).to_contain_text("Finished")
    # A fresh run opens at its end, with nothing left on the stack.
    assert ide.step_no() == int(ide.tid("timeline").get_attribute("max"))
    ide.shot("execution")


def test_a_runtime_error_is_shown_with_its_line(ide):
    ide.run('print("before")\nlet xs = [1, 2]\nprint(xs[5])\n')
    status = ide.text("run-status")
    assert status.startswith("Error at 3:"), status
    expect(ide.tid("output")).to_contain_text("before")


def test_step_forward_and_back_show_stack_heap_and_output(ide):
    ide.run(CALLS)
    ide.move("reverse-continue")  # no breakpoints: back to the start
    expect(ide.tid("position")).to_contain_text("(start)")
    assert ide.step_no() == 0
    expect(ide.tid("output")).to_have_text("")
    first_line = ide.api_state(0)["line"]
    ide.at(first_line)
    # Over the module's lines to the one that calls add: xs and p are live.
    for _ in range(12):
        if re.search(r", line 8\b", ide.position()):
            break
        ide.move("step-forward")
    ide.at(8)
    stack = ide.text("stack")
    assert "<module>:8" in stack
    assert re.search(r"^\s*xs = ", stack, re.MULTILINE), stack
    heap = ide.text("heap")
    assert "pair" in heap, heap  # the record p, drawn and listed
    # Into add: its frame on top of the module's, with its arguments.
    ide.move("step-into")
    ide.at(2)
    stack = ide.text("stack")
    assert stack.index("add:2") < stack.index("<module>:8"), stack
    assert "a = 3" in stack and "b = 4" in stack, stack
    ide.shot("stepping")
    ide.move("step-forward")
    ide.at(3)
    assert "s = 7" in ide.text("stack")
    # Out of add, back in the module at the call's line.
    ide.move("step-out")
    ide.at(8)
    # Forward to the first print: its output appears once it has run.
    for _ in range(12):
        if re.search(r", line 11\b", ide.position()):
            break
        ide.move("step-forward")
    ide.at(11)
    expect(ide.tid("output")).to_have_text("sum 18\n")
    # Back one line: before the print ran, so no output again.
    ide.move("step-back")
    ide.at(10)
    expect(ide.tid("output")).to_have_text("")
    assert "t = 18" in ide.text("stack")


def test_the_timeline_scrubs_by_instruction(ide):
    ide.run(FIB)
    timeline = ide.tid("timeline")
    steps = int(timeline.get_attribute("max"))
    assert steps > 1000, steps
    k = steps // 2
    # Drag the slider to k: set its value as the browser does on a drag.
    timeline.evaluate(
        "(el, k) => { el.value = String(k); el.dispatchEvent(new Event('input', {bubbles: true})); }",
        k,
    )
    expect(ide.tid("position")).to_contain_text(f"step {k} / {steps}")
    want = ide.api_state(k)
    top = want["frames"][0]
    expect(ide.tid("stack")).to_contain_text(f"{top['function']}:{top['line']}")
    assert ide.text("output") == want["output"]
    ide.shot("timeline")
    # The keyboard moves the slider one instruction at a time.
    timeline.focus()
    ide.page.keyboard.press("ArrowRight")
    expect(ide.tid("position")).to_contain_text(f"step {k + 1} / {steps}")
    nxt = ide.api_state(k + 1)
    expect(ide.tid("stack")).to_contain_text(
        f"{nxt['frames'][0]['function']}:{nxt['frames'][0]['line']}"
    )
    # A fast drag (many input events at once): the view ends where the drag
    # ends, whatever order the answers came in.
    timeline.evaluate(
        """(el, to) => { for (let k = 0; k <= 60; k++) {
            el.value = String(Math.round((to * k) / 60));
            el.dispatchEvent(new Event('input', {bubbles: true})); } }""",
        k // 3,
    )
    expect(ide.tid("position")).to_contain_text(f"step {k // 3} / {steps}")
    there = ide.api_state(k // 3)
    expect(ide.tid("stack")).to_contain_text(
        f"{there['frames'][0]['function']}:{there['frames'][0]['line']}"
    )
    assert ide.text("output") == there["output"]
    # Scrubbed to the end: all the output.
    timeline.evaluate(
        "(el, k) => { el.value = String(k); el.dispatchEvent(new Event('input', {bubbles: true})); }",
        steps,
    )
    expect(ide.tid("output")).to_have_text("total 232\n")


def test_continue_and_reverse_continue_stop_at_breakpoints(ide):
    ide.run(CALLS)
    ide.toggle_breakpoint(2)  # inside add, called twice on line 8
    expect(ide.page.locator(".bp-dot:visible")).to_have_count(1)
    # From the end, backwards: the last hit (add(5, 6)), the first, the start.
    ide.move("reverse-continue")
    ide.at(2, "breakpoint")
    assert "a = 5" in ide.text("stack")
    ide.move("reverse-continue")
    ide.at(2, "breakpoint")
    assert "a = 3" in ide.text("stack")
    expect(ide.tid("output")).to_have_text("")
    ide.shot("breakpoint")
    ide.move("reverse-continue")
    expect(ide.tid("position")).to_contain_text("(start)")
    assert ide.step_no() == 0
    # And forwards again: both hits, then the end with all the output.
    ide.move("continue")
    ide.at(2, "breakpoint")
    assert "a = 3" in ide.text("stack")
    ide.move("continue")
    ide.at(2, "breakpoint")
    assert "a = 5" in ide.text("stack")
    ide.move("continue")
    expect(ide.tid("position")).to_contain_text("end")
    expect(ide.tid("output")).to_have_text(CALLS_OUTPUT)
    # Without the breakpoint, reverse continue goes all the way back.
    ide.toggle_breakpoint(2)
    expect(ide.page.locator(".bp-dot:visible")).to_have_count(0)
    ide.move("reverse-continue")
    expect(ide.tid("position")).to_contain_text("(start)")


def test_a_permalink_opens_the_same_program_in_a_fresh_page(ide, browser):
    source = 'fn greet(who: string) -> string {\n  return "hello, ${who} ✓"\n}\nprint(greet("permalink"))\n'
    ide.replace_source(source)
    ide.tid("permalink").click()
    expect(ide.tid("permalink-url")).to_have_value(
        re.compile(r"#lang=tinylang&code=[\w-]+$")
    )
    url = ide.tid("permalink-url").input_value()
    assert url.startswith(ide.url)
    context = browser.new_context(viewport=VIEWPORT)
    try:
        fresh = Ide(context.new_page(), ide.url, ide.shots).open(url)
        assert fresh.source() == source
        expect(fresh.page.locator("[data-testid=editor] .cm-content")).to_contain_text(
            'print(greet("permalink"))'
        )
        fresh.run()
        expect(fresh.tid("output")).to_have_text("hello, permalink ✓\n")
        assert fresh.errors == []
    finally:
        context.close()


def test_examples_menu_and_lox(ide):
    info = ide.page.request.get(f"{ide.url}api/info").json()
    lox = [e["name"] for e in info["examples"] if e["language"] == "lox"]
    assert lox, info["examples"]
    ide.tid("examples").select_option(lox[0])
    want = ide.page.request.get(f"{ide.url}api/example/{lox[0]}").json()
    expect(ide.tid("language")).to_have_value("lox")
    ide.page.wait_for_function(
        "src => window.tvmIde.editor.source === src", arg=want["source"]
    )
    ide.run()
    expect(ide.tid("run-status")).to_contain_text("Finished")
    assert ide.text("output").strip(), (
        ide.text("run-status"),
        ide.position(),
        ide.source()[:200],
    )


def test_compiler_view_links_source_and_bytecode_lines(ide):
    ide.replace_source(CALLS)
    expect(ide.tid("diagnostics")).to_have_text("No problems.")
    ide.tid("compiler-tab").click()
    code = ide.tid("bytecode")
    expect(code).to_contain_text("fn add")
    compiled = ide.page.request.post(
        f"{ide.url}api/compile",
        data=json.dumps({"language": "tinylang", "source": CALLS}),
        headers={"Content-Type": "application/json"},
    ).json()
    lines_with_code = {
        ins["line"] for fn in compiled["functions"] for ins in fn["instructions"]
    }
    assert 2 in lines_with_code
    # Hover source line 2: exactly its instructions light up on the other side.
    ide.page.locator(".cv-source [data-line='2']").hover()
    lit = ide.page.locator(".cv-code .cv-row.hl")
    n2 = sum(
        1
        for fn in compiled["functions"]
        for ins in fn["instructions"]
        if ins["line"] == 2
    )
    expect(lit).to_have_count(n2)
    # Same colour on both sides.
    src_bg = ide.page.locator(".cv-source [data-line='2']").evaluate(
        "el => el.style.background"
    )
    code_bg = lit.first.evaluate("el => el.style.background")
    assert src_bg == code_bg
    # The IR per function and pass, under the bytecode (docs/ir.md).
    ir = {f["function"]: f["passes"] for f in compiled["ir"]}
    assert "add" in ir, list(ir)
    bar = ide.tid("ir")
    bar.get_by_label("IR function").select_option(label="add")
    passes = bar.get_by_label("IR pass")
    expect(passes.locator("option")).to_have_count(len(ir["add"]))
    last = len(ir["add"]) - 1
    passes.select_option(index=last)
    expect(ide.page.locator(".cv-ir-text")).to_have_text(ir["add"][last]["text"])
    ide.shot("compiler")
    # And the other way: hover an instruction, its source line lights up.
    ide.page.locator(".cv-code [data-line='8']").first.hover()
    expect(ide.page.locator(".cv-source .cv-row.hl")).to_have_count(1)
    expect(ide.page.locator(".cv-source .cv-row.hl")).to_contain_text(
        "let t = add(3, 4)"
    )


def test_profile_view_renders_a_flame_graph(ide):
    ide.replace_source(FIB)
    ide.tid("profile").click()
    flame = ide.tid("flame")
    expect(flame.locator("svg rect").first).to_be_visible(timeout=60_000)
    assert flame.locator("svg g").count() > 3
    expect(flame).to_contain_text("fib")
    # The bottom frame (the whole run) spans the graph's full width.
    ide.page.wait_for_function(
        """() => {
            const svg = document.querySelector("[data-testid=flame] svg");
            const widest = Math.max(...[...svg.querySelectorAll("rect")].map((r) => r.width.baseVal.value));
            return Math.abs(widest - svg.width.baseVal.value) < 2;
        }"""
    )
    assert "fib" in ide.page.locator(".flame-table").inner_text()
    # A program that collects: its GC pauses on the time line.
    load_example(ide, "gc_cycle.tl")
    ide.tid("profile").click()
    timelines = ide.tid("profile-timelines")
    expect(timelines).to_contain_text("incremental-slice", timeout=60_000)
    pauses = ide.page.request.get(
        f"{ide.url}api/session/{ide.session()}/profile"
    ).json()["gc"]
    expect(timelines).to_contain_text(f"GC ({len(pauses)})")
    expect(timelines.locator("rect.gc-bar")).to_have_count(len(pauses))
    expect(flame).to_contain_text("build")
    ide.shot("profile")


def load_example(ide, name: str) -> None:
    ide.tid("examples").select_option(name)
    want = ide.page.request.get(f"{ide.url}api/example/{name}").json()
    ide.page.wait_for_function(
        "src => window.tvmIde.editor.source === src", arg=want["source"]
    )


def test_an_incremental_gc_cycle_colours_the_heap(ide):
    load_example(ide, "gc_cycle.tl")
    ide.run()
    gc = ide.page.evaluate("window.tvmIde.exec.run.gc")
    assert gc, "the lesson's run collects"
    # Each collection is a tick on the timeline.
    expect(ide.page.locator(".timeline-marks .gc-mark")).to_have_count(len(gc))
    # Scrub into the first incremental cycle: the marking is under way, and
    # the heap's objects carry their mark colours.
    k = gc[0]["step"] + 1
    ide.tid("timeline").evaluate(
        "(el, k) => { el.value = String(k); el.dispatchEvent(new Event('input', {bubbles: true})); }",
        k,
    )
    expect(ide.tid("position")).to_contain_text(f"step {k} /")
    gc_text = ide.text("gc")
    assert "mode: incremental" in gc_text, gc_text
    want = ide.api_state(k)
    colours = {n["colour"] for n in want["heap"]["nodes"]} - {None}
    assert colours, want["gc"]
    for colour in colours:
        expect(ide.tid("heap").locator(f".tag.mark-{colour}").first).to_be_visible()
    ide.shot("gc")


def test_a_channel_deadlock_shows_the_blocked_fibers(ide):
    load_example(ide, "deadlock.tl")
    ide.run()
    expect(ide.tid("run-status")).to_contain_text("DeadlockError")
    fibers = ide.text("fibers")
    assert fibers.count("blocked") >= 2, fibers
    assert "recv from chan 1" in fibers and "recv from chan 2" in fibers, fibers
    expect(ide.tid("output")).to_contain_text("DeadlockError: all fibers are blocked")
    ide.shot("fibers")


def test_a_big_heap_is_paged(ide):
    ide.run("var xs = []\nfor i in 0..100 {\n  xs.push([i])\n}\nprint(xs.len())\n")
    expect(ide.tid("output")).to_have_text("100\n")
    total = ide.api_state(ide.step_no())["heap"]["total"]
    assert total > 40, total
    pager = ide.page.locator(".heap-pager")
    expect(pager).to_contain_text(f"objects 1–40 of {total}")
    expect(ide.page.locator(".heap-list .heap-obj")).to_have_count(40)
    pager.get_by_title("next page").click()
    expect(pager).to_contain_text(f"objects 41–{min(80, total)} of {total}")
    expect(ide.page.locator(".heap-list .heap-obj")).to_have_count(min(80, total) - 40)


def test_a_runaway_program_stops_at_its_limit(ide):
    ide.run("var i = 0\nwhile true {\n  i += 1\n}\n")
    status = ide.text("run-status")
    assert status.startswith("Stopped by a limit"), status
    assert "out of fuel" in status, status
    # The recorded part of the run is still there to explore.
    ide.move("step-back")
    expect(ide.tid("stack")).to_contain_text("i = ")


def test_the_file_given_to_tvm_ide_opens_and_runs(browser, shots):
    """`tvm ide examples/showcase.tl` (the issue's "done when"): the editor
    opens the file, and a run prints what `tvm run` prints."""
    if _missing:
        pytest.fail("the browser tests need " + ", ".join(_missing))
    showcase = REPO / "examples" / "showcase.tl"
    with tvm_ide(str(showcase)) as url:
        context = browser.new_context(viewport=VIEWPORT)
        try:
            ide = Ide(context.new_page(), url, shots).open()
            assert ide.source() == showcase.read_text()
            expect(ide.tid("language")).to_have_value("tinylang")
            expect(ide.tid("diagnostics")).to_have_text("No problems.")
            ide.run()
            expect(ide.tid("run-status")).to_contain_text("Finished")
            expected = (REPO / "examples" / "expected" / "showcase.out").read_text()
            assert ide.text("output") == expected
            ide.shot("showcase")
            assert ide.errors == []
        finally:
            context.close()
