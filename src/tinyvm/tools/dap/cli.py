"""`tvm dap`'s command line: options to a serving mode (server.py).

Kept apart from cli/main.py so that `tvm run` never imports the adapter; the
CLI imports this module only for `tvm dap`.
"""

from __future__ import annotations

import os
from typing import TextIO

from ...cli.options import Parsed, UsageError


def main(words: list[str], opts: Parsed, stdin: TextIO | None, stdout: TextIO, stderr: TextIO) -> int:
    from . import server

    program, args = (words[0], words[1:]) if words else (None, [])
    if program is not None and not os.path.isfile(program):
        raise UsageError(f"dap: no such file: {program}")
    port, once = opts.get("port"), bool(opts.get("once"))
    if once and port is None:
        raise UsageError("--once needs --port")
    log_path = opts.get("log")
    log = None
    if log_path is not None:
        try:
            log = open(log_path, "a", encoding="utf-8")
        except OSError as e:
            raise UsageError(f"--log: cannot open {log_path}: {e.strerror}") from None
    try:
        if port is not None:
            return server.serve_tcp(port, program=program, program_args=args, log=log, once=once, announce=stderr)
        return server.serve_stdio(program=program, program_args=args, log=log)
    except OSError as e:  # the port is taken, or the streams failed
        stderr.write(f"tvm dap: {e.strerror or e}\n")
        return 1
    finally:
        if log is not None:
            log.close()
