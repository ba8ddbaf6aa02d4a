"""`tvm debug FILE [args]`: a pdb-style terminal debugger over the engine.

Why plain `input()`-style line reads (no readline, no curses): it must work
in a terminal and when piped (tests feed the commands on stdin and compare
the transcript), the same way. When stdin is not a terminal the command read
is echoed after the prompt, so a piped session's transcript reads like a
terminal one.

Commands (also `h`):

    b [FILE:]LINE [if COND]   break at a line (moved to the next line with code)
    b FUNC [if COND]          break when FUNC (or Class.method) is called
    b                         list breakpoints; cl [N] clears one or all
    c / n / s / finish        continue, next (step over), step in, step out
    rs / rc                   reverse step (the previous line), reverse continue
    restart                   back to the first line of the selected frame's call
    goto N                    go to position N (forwards or backwards)
    p EXPR                    evaluate in the selected frame; `p NAME = EXPR` assigns
    v                         the selected frame's locals (and captured variables)
    bt / w                    the stack; up / down select a frame
    l [LINE]                  source around the current (or given) line
    catch [caught] [uncaught] stop on exceptions (no argument: none)
    fibers, heap, pos         fibers, a heap summary, the position (instructions run)
    q                         quit
"""

from __future__ import annotations

from typing import Any, TextIO

from .engine import Engine, EvalError, Stop, source_lines

PROMPT = "(tvm) "
HELP = __doc__.split("Commands (also `h`):", 1)[1].strip("\n")


class Debugger:
    """One `tvm debug` session: an engine and the terminal's streams."""

    def __init__(self, engine: Engine, stdin: TextIO, stdout: TextIO, stderr: TextIO | None = None) -> None:
        self.eng = engine
        self.stdin, self.stdout = stdin, stdout
        self.stderr = stderr if stderr is not None else stdout
        self.echo = not _isatty(stdin)
        # Breakpoints as set: {"num", "file" (None: a function's), "spec", "desc"}.
        self.bp_list: list[dict] = []
        self.bp_number = 0
        self.stop: Stop | None = None
        self.level = 0  # the selected frame

    def say(self, text: str = "") -> None:
        self.stdout.write(text + "\n")
        self.stdout.flush()

    def output(self, category: str, text: str) -> None:
        self.stdout.write(text)
        self.stdout.flush()

    # ------------------------------------------------------------------ the loop

    def run(self) -> int:
        eng = self.eng
        if eng.compile_error is not None:
            self.stderr.write(eng.compile_error + "\n")
            return eng.frontend.exit_compile
        self.show(self._wait(lambda: eng.start(stop_on_entry=True)))
        while True:
            self.stdout.write(PROMPT)
            self.stdout.flush()
            line = self.stdin.readline()
            if not line:
                self.say()
                break
            line = line.strip()
            if self.echo:
                self.stdout.write(line + "\n")
            if not line:
                continue
            try:
                if self.command(line) is False:
                    break
            except EvalError as e:
                self.say(f"*** {e}")
        eng.close()
        return 0

    def _wait(self, call: Any) -> Stop:
        """Run an engine call that lets the program run; Ctrl-C pauses it."""
        try:
            return call()
        except KeyboardInterrupt:
            self.eng.pause()
            return self.eng._wait()

    def command(self, line: str) -> bool | None:
        word, _, rest = line.partition(" ")
        rest = rest.strip()
        eng = self.eng
        moves = {"c": "continue", "cont": "continue", "continue": "continue", "n": "next", "next": "next", "s": "stepIn", "step": "stepIn", "finish": "stepOut", "f": "stepOut"}
        if word in moves:
            if self._ended():
                return None
            self.show(self._wait(lambda: eng.resume(moves[word])))
        elif word in ("rs", "rstep"):
            self.show(self._wait(eng.step_back))
        elif word in ("rc", "rcontinue"):
            self.show(self._wait(eng.reverse_continue))
        elif word == "restart":
            frame = self._frame()
            if frame is None:
                self.say("*** no frame")
                return None
            self.show(self._wait(lambda: eng.restart_frame(frame["id"])))
        elif word == "goto":
            if not rest.isdigit():
                self.say("*** goto needs a position (a number: see pos)")
                return None
            self.show(self._wait(lambda: eng.goto(int(rest))))
        elif word in ("b", "break"):
            self.breakpoint(rest)
        elif word in ("cl", "clear"):
            self.clear(rest)
        elif word in ("p", "print"):
            self.print_(rest)
        elif word in ("v", "vars", "locals"):
            self.locals_()
        elif word in ("bt", "w", "where"):
            self.backtrace()
        elif word in ("up", "u"):
            self.move(1)
        elif word in ("down", "d"):
            self.move(-1)
        elif word in ("l", "list"):
            self.list_(rest)
        elif word == "catch":
            filters = rest.split()
            bad = [f for f in filters if f not in ("caught", "uncaught")]
            if bad:
                self.say(f"*** catch takes caught and/or uncaught, not {' '.join(bad)}")
                return None
            eng.set_exception_breakpoints(filters)
            self.say(f"stop on exceptions: {' and '.join(filters)}" if filters else "no stop on exceptions")
        elif word == "fibers":
            self.fibers()
        elif word == "heap":
            self.heap()
        elif word == "pos":
            self.say(f"position {eng.position} ({len(eng.history)} line events recorded)")
        elif word in ("q", "quit", "exit"):
            return False
        elif word in ("h", "help", "?"):
            self.say(HELP)
        else:
            self.say(f"*** unknown command {word!r} (h lists the commands)")
        return None

    def _ended(self) -> bool:
        if self.stop is not None and self.stop.reason == "exited":
            self.say("the program has ended: rs and rc go back, q quits")
            return True
        return False

    # ------------------------------------------------------------------ showing

    def show(self, stop: Stop) -> None:
        self.stop = stop
        self.level = 0
        if stop.reason == "exited":
            if stop.error:
                self.say(stop.error)
            self.say(f"program exited with status {stop.exit_code} (position {stop.position})")
            return
        frame = self._frame()
        what = {"breakpoint": "breakpoint", "function breakpoint": "breakpoint", "exception": stop.text, "pause": "paused", "entry": "start"}.get(stop.reason, "")
        if stop.fiber_id != 1:
            what = (what + " " if what else "") + f"in fiber {stop.fiber_id}"
        if frame is not None:
            self.say(f"> {frame['path']}:{frame['line']} {frame['name']}" + (f"  ({what})" if what else ""))
            self._source_line(frame["path"], frame["line"], "->")

    def _source_line(self, path: str, line: int, mark: str = "  ") -> None:
        lines = source_lines(path)
        if 0 < line <= len(lines):
            self.say(f"{line:4} {mark} {lines[line - 1]}")

    def _frame(self) -> dict | None:
        frames, _ = self.eng.stack(self.stop.fiber_id if self.stop else 1)
        if not frames:
            return None
        return frames[min(self.level, len(frames) - 1)]

    def backtrace(self) -> None:
        frames, _ = self.eng.stack(self.stop.fiber_id if self.stop else 1)
        if not frames:
            self.say("*** the program is not stopped")
        for i, f in enumerate(frames):
            self.say(f"{'>' if i == self.level else ' '} #{i} {f['name']} at {f['path']}:{f['line']}:{f['column']}")

    def move(self, by: int) -> None:
        frames, total = self.eng.stack(self.stop.fiber_id if self.stop else 1)
        new = self.level + by
        if not 0 <= new < total:
            self.say("*** no frame " + ("above" if by > 0 else "below"))
            return
        self.level = new
        f = frames[new]
        self.say(f"> {f['path']}:{f['line']} {f['name']}")
        self._source_line(f["path"], f["line"], "->")

    def list_(self, rest: str) -> None:
        frame = self._frame()
        path = frame["path"] if frame else self.eng.path
        current = frame["line"] if frame else 0
        center = int(rest) if rest.isdigit() else current or 1
        lines = source_lines(path)
        bps = {b["spec"]["line"] for b in self.bp_list if b["file"] is not None and _same(b["file"], path)}
        for n in range(max(1, center - 5), min(len(lines), center + 5) + 1):
            mark = "->" if n == current else ("B " if n in bps else "  ")
            self.say(f"{n:4} {mark} {lines[n - 1]}")

    def print_(self, expr: str) -> None:
        if not expr:
            self.say("*** p needs an expression")
            return
        frame = self._frame()
        r = self.eng.evaluate(expr, frame["id"] if frame else None)
        self.say(r["result"])

    def locals_(self) -> None:
        frame = self._frame()
        if frame is None:
            self.say("*** the program is not stopped")
            return
        for scope in self.eng.scopes(frame["id"]):
            if scope["name"] == "Globals":
                continue
            for v in self.eng.variables(scope["variablesReference"]):
                self.say(f"{v['name']} = {v['value']}  ({v['type']})")

    def fibers(self) -> None:
        rows = self.eng.fibers()
        if not rows:
            self.say("*** the program is not stopped")
        for f in rows:
            wait = f"  waiting: {f['waiting']}" if f["waiting"] else ""
            self.say(f"{'*' if f['current'] else ' '} {f['id']:3} {f['name']:<12} {f['state']:<8} {f['where']}{wait}")

    def heap(self) -> None:
        h = self.eng.heap_summary()
        if not h:
            self.say("*** the program is not running")
            return
        self.say(f"heap: {h['bytes']} bytes accounted (peak {h['peak']}), {h['objects']} reachable objects, {h['collections']} collections")
        for name, row in list(h["by_type"].items())[:12]:
            self.say(f"  {name:<14} {row['count']:6} objects {row['bytes']:9} bytes")

    # ------------------------------------------------------------------ breakpoints

    def breakpoint(self, rest: str) -> None:
        if not rest:
            if not self.bp_list:
                self.say("no breakpoints")
            for bp in self.bp_list:
                self.say(f"{bp['num']:3} {bp['desc']}")
            return
        where, _, cond = rest.partition(" if ")
        where, cond = where.strip(), cond.strip() or None
        file, _, line = where.rpartition(":")
        if where.isdigit():
            file, line = self._current_file(), where
        extra = {"condition": cond} if cond else {}
        if not line.isdigit():  # a function
            bp = {"file": None, "spec": {"name": where, **extra}}
        else:
            bp = {"file": file or self._current_file(), "spec": {"line": int(line), **extra}}
        self.bp_list.append(bp)
        r = self._send(bp["file"])[-1]
        if not r["verified"]:
            self.bp_list.pop()
            self._send(bp["file"])
            self.say(f"*** {r.get('message', 'cannot break there')}")
            return
        self.bp_number += 1
        bp["num"] = self.bp_number
        if bp["file"] is None:
            bp["desc"] = f"function {where}"
        else:
            bp["spec"]["line"] = r["line"]  # (moved to the line with code)
            bp["desc"] = f"{bp['file']}:{r['line']}"
        bp["desc"] += f" if {cond}" if cond else ""
        self.say(f"breakpoint {bp['num']} at {bp['desc']}")

    def _send(self, file: str | None) -> list[dict]:
        """Give the engine every breakpoint of `file` (None: the function
        breakpoints): it takes them all at once, as DAP does."""
        specs = [b["spec"] for b in self.bp_list if b["file"] == file]
        if file is None:
            return self.eng.set_function_breakpoints(specs)
        return self.eng.set_breakpoints(file, specs)

    def clear(self, rest: str) -> None:
        if not rest:
            files = {b["file"] for b in self.bp_list}
            self.bp_list = []
            for file in files:
                self._send(file)
            self.say("all breakpoints cleared")
            return
        bp = next((b for b in self.bp_list if rest.isdigit() and b["num"] == int(rest)), None)
        if bp is None:
            self.say(f"*** no breakpoint {rest}")
            return
        self.bp_list.remove(bp)
        self._send(bp["file"])
        self.say(f"breakpoint {rest} cleared")

    def _current_file(self) -> str:
        frame = self._frame()
        return frame["path"] if frame else self.eng.path


def _same(a: str, b: str) -> bool:
    from .engine import same_file

    return same_file(a, b)


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def main(path: str, args: list[str], *, stdin: TextIO, stdout: TextIO, stderr: TextIO | None = None, jit: str = "off", lang: str | None = None, languages: Any = None, allow: Any = None) -> int:
    """`tvm debug`: debug the program at `path` (its stdin is empty: the
    debugger's commands come from stdin)."""
    holder: list[Debugger] = []
    eng = Engine(path, argv=args, stdin="", on_output=lambda c, t: holder[0].output(c, t), jit=jit, lang=lang, languages=languages, allow=allow)
    dbg = Debugger(eng, stdin, stdout, stderr)
    holder.append(dbg)
    return dbg.run()


__all__ = ["Debugger", "main"]
