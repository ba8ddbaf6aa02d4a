"""The command line's side of the run-time tools: `tvm prof`, `tvm run --trace`, `--metrics-port`.

Why a module of its own: cli/main.py stays a thin parser (its `run` calls
`attach` once the VM exists and `finish` once the program ended), and the tools
are imported only when one of their options is given, so `tvm run hello.tl`
starts as lean as before.

`attach` raises `ToolError` (a complete, user-facing message) for what the
user must fix: prometheus-client missing, a port in use, an unwritable file.
"""

from __future__ import annotations

import os
from typing import Any, TextIO


def _tracing(opts: Any) -> bool:
    """--trace, or any --trace-* option (which would mean nothing alone)."""
    return any(opts.get(k) is not None for k in ("trace", "trace_fn", "trace_lines", "trace_limit", "trace_out"))


class ToolError(Exception):
    """A tool could not start or write its output; the message says why."""


PROF_EXT = {"speedscope": ".speedscope.json", "chrome": ".trace.json", "folded": ".folded"}


class RunTools:
    """The tools attached to one `tvm run` / `tvm prof` run."""

    def __init__(self, stderr: TextIO, stdout: TextIO | None = None) -> None:
        self.stderr = stderr
        self.stdout = stdout
        self.tracer: Any = None
        self.trace_file: TextIO | None = None
        self.metrics: Any = None
        self.profiler: Any = None
        self.prof_opts: dict = {}

    def _say(self, text: str) -> None:
        try:
            self.stderr.write(text + "\n")
            self.stderr.flush()
        except (OSError, ValueError):
            pass

    @classmethod
    def attach(cls, vm: Any, opts: Any, program: str, stderr: TextIO, stdout: TextIO | None = None, prof: bool = False) -> RunTools | None:
        """The tools `opts` asks for, started on `vm` (an api.VM); None when none is."""
        wants = prof or _tracing(opts) or opts.get("metrics_port") is not None
        if not wants:
            return None
        tools = cls(stderr, stdout)
        try:
            tools._start(vm, opts, program, prof)
        except BaseException:
            tools.close()
            raise
        return tools

    def _start(self, vm: Any, opts: Any, program: str, prof: bool) -> None:
        if opts.get("metrics_port") is not None:
            from .metrics import MetricsServer, MetricsUnavailable

            host = opts.get("metrics_host") or "127.0.0.1"
            try:
                self.metrics = MetricsServer(vm, opts.get("metrics_port"), host).start()
            except MetricsUnavailable as e:
                raise ToolError(str(e)) from None
            except OSError as e:
                raise ToolError(f"cannot serve metrics on {host}:{opts.get('metrics_port')}: {e.strerror or e}") from None
            self._say(f"tvm: metrics at {self.metrics.url} (and /healthz)")
        if _tracing(opts):
            from .trace import DEFAULT_LIMIT, Tracer

            out: TextIO = self.stderr
            path = opts.get("trace_out")
            if path is not None:
                try:
                    out = self.trace_file = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed by finish()
                except OSError as e:
                    raise ToolError(f"cannot write the trace to {path}: {e.strerror or e}") from None
            limit = opts.get("trace_limit")
            self.tracer = Tracer(vm, fn=opts.get("trace_fn"), lines=opts.get("trace_lines"), limit=DEFAULT_LIMIT if limit is None else limit, out=out, keep=False)
        if prof:
            from .profiler import Profiler

            fmt = opts.get("format") or "summary"
            out_path = opts.get("output")
            if out_path is None and fmt != "summary":
                stem = os.path.splitext(os.path.basename(program))[0]
                if not stem or stem.startswith("<"):  # -e CODE, standard input
                    stem = "tvmprof"
                out_path = stem + PROF_EXT[fmt]
            self.prof_opts = {"format": fmt, "output": out_path, "lines": bool(opts.get("lines")), "top": opts.get("top")}
            if opts.get("alloc"):  # (the CLI made the VM with alloc_sites="stack")
                from .allocprof import AllocProfiler

                self.profiler = AllocProfiler(vm, program=program)
                return
            try:
                self.profiler = Profiler(vm, interval=opts.get("interval"), wall=bool(opts.get("wall")), program=program)
            except ValueError as e:
                raise ToolError(f"--interval: {e}") from None

    def begin(self) -> None:
        """The program is compiled and about to run: start tracing and sampling
        (so the profile holds the run, not the compiler)."""
        if self.tracer is not None:
            self.tracer.start()
        if self.profiler is not None:
            self.profiler.start()

    def finish(self) -> bool:
        """Stop every tool and write what it has; False when an output could not be written."""
        ok = True
        if self.profiler is not None and not self.profiler.started:  # (the program did not compile)
            self.profiler = None
        if self.tracer is not None:
            self.tracer.finish()
            self.tracer = None
        if self.profiler is not None:
            from .profile_formats import render

            profile = self.profiler.stop()
            self.profiler = None
            text = render(profile, self.prof_opts["format"], self.prof_opts["lines"], self.prof_opts["top"])
            path = self.prof_opts["output"]
            if path is None:  # the summary, after the program's own output
                self._say("")
                self._write_stream(self.stderr, text)
            elif path == "-":
                self._write_stream(self.stdout or self.stderr, text)
            else:
                try:
                    with open(path, "w", encoding="utf-8") as f:
                        f.write(text)
                    what = f"{len(profile.samples)} stacks, {profile.bytes:,} bytes" if profile.mode == "alloc" else f"{len(profile.samples)} samples"
                    self._say(f"tvm prof: {what}, {self.prof_opts['format']} profile written to {path}")
                except OSError as e:
                    self._say(f"tvm prof: cannot write {path}: {e.strerror or e}")
                    ok = False
        self.close()
        return ok

    @staticmethod
    def _write_stream(stream: TextIO, text: str) -> None:
        try:
            stream.write(text)
            stream.flush()
        except (OSError, ValueError):
            pass

    def close(self) -> None:
        if self.tracer is not None:
            self.tracer.stop()
            self.tracer = None
        if self.profiler is not None:
            if self.profiler.started:
                self.profiler.stop()
            self.profiler = None
        if self.metrics is not None:
            self.metrics.stop()
            self.metrics = None
        if self.trace_file is not None:
            try:
                self.trace_file.close()
            except OSError:
                pass
            self.trace_file = None
