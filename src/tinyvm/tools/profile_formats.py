"""Views of a `Profile` (tools/profiler.py): files for other tools, and the terminal summary.

Why several: each tool people already use reads its own format, and the profile
is data, so each view is a small function of it.

* `speedscope(p)` -- speedscope's file format ("sampled" profiles, one per
  fiber; https://www.speedscope.app/file-format-schema.json).
* `chrome(p)` -- Chrome Trace Event JSON (Perfetto, chrome://tracing): each
  fiber is a thread whose sampled stacks become nested complete ("X") slices;
  GC pauses and JIT compilations are slices on a "VM" thread (tid 0).
* `folded(p)` -- folded stacks for flamegraph.pl (`a;b;c weight` lines).
* `summary(p)` -- top functions (self/total), hot lines, opcodes, GC, JIT.

An allocation profile (tools/allocprof.py: mode "alloc", unit "bytes") has
the same views but the Chrome trace (it has no time line): speedscope's unit
is "bytes", and `summary` is `alloc_summary`.

Frames are function-level by default (a function is one box however many of
its lines were sampled); `lines=True` makes each (function, line) a frame.
"""

from __future__ import annotations

import itertools
import os
from typing import Any

from .profiler import Frame, Profile

FORMATS = ("summary", "speedscope", "chrome", "folded")
SPEEDSCOPE_SCHEMA = "https://www.speedscope.app/file-format-schema.json"
VM_TID = 0  # Chrome trace: the thread of GC and JIT slices; fiber n is thread n + 1


def _key(f: Frame, lines: bool) -> tuple:
    return (f.name, f.path, f.line if lines else f.fn_line)


def _label(f: Frame, lines: bool) -> str:
    return f"{f.name} ({os.path.basename(f.path)}:{f.line if lines else f.fn_line})"


def _fiber_name(p: Profile, fid: int) -> str:
    name = p.fibers.get(fid, "fiber")
    return f"fiber {fid} ({name})"


def _fiber_ids(p: Profile) -> list[int]:
    return sorted({s.fiber for s in p.samples} | set(p.fibers))


# --------------------------------------------------------------------------- speedscope


def _every(p: Profile) -> str:
    if p.mode == "alloc":
        return "bytes allocated, by the guest stack that allocated them"
    if p.mode == "wall":
        return f"a sample every {p.interval:g} ms of wall time"
    return f"a sample per ~{int(p.interval)} dispatches, weighing the {p.unit} run"


def speedscope(p: Profile, lines: bool = False) -> dict:
    frames: list[dict] = []
    index: dict[tuple, int] = {}
    remap: list[int] = []
    for f in p.frames:
        k = _key(f, lines)
        i = index.get(k)
        if i is None:
            i = index[k] = len(frames)
            frames.append({"name": f.name, "file": f.path, "line": k[2]})
        remap.append(i)
    profiles = []
    unit = p.unit if p.unit in ("milliseconds", "bytes") else "none"
    for fid in _fiber_ids(p):
        samples = [s for s in p.samples if s.fiber == fid]
        if not samples:
            continue
        total = sum(s.weight for s in samples)
        name = _fiber_name(p, fid)
        spawned = getattr(p, "spawned", {}).get(fid)
        if spawned:
            name += f", spawned at {_label(p.frames[spawned[-1]], True)}"
        profiles.append(
            {
                "type": "sampled",
                "name": name,
                "unit": unit,
                "startValue": 0,
                "endValue": total,
                "samples": [[remap[i] for i in s.stack] for s in samples],
                "weights": [s.weight for s in samples],
            }
        )
    return {
        "$schema": SPEEDSCOPE_SCHEMA,
        "shared": {"frames": frames},
        "profiles": profiles,
        "name": f"{os.path.basename(p.program) or 'tvm'} ({_every(p)})",
        "activeProfileIndex": 0,
        "exporter": "tvm prof",
    }


# --------------------------------------------------------------------------- chrome trace


def chrome(p: Profile, lines: bool = False) -> dict:
    """Trace Event JSON. Timestamps are wall-clock microseconds since the
    profile started; a sample covers the time up to the next sample."""
    events: list[dict] = [
        {"ph": "M", "pid": 1, "tid": VM_TID, "name": "process_name", "args": {"name": f"tvm {p.program}"}},
        {"ph": "M", "pid": 1, "tid": VM_TID, "name": "thread_name", "args": {"name": "VM (GC, JIT)"}},
    ]
    for fid in _fiber_ids(p):
        events.append({"ph": "M", "pid": 1, "tid": fid + 1, "name": "thread_name", "args": {"name": _fiber_name(p, fid)}})
        events.append({"ph": "M", "pid": 1, "tid": fid + 1, "name": "thread_sort_index", "args": {"sort_index": fid + 1}})
    samples = p.samples
    ts = [s.t * 1e6 for s in samples]
    gaps = [b - a for a, b in itertools.pairwise(ts)]
    step = sum(gaps) / len(gaps) if gaps else 1.0
    open_: dict[int, list[tuple[int, float]]] = {}  # fiber -> [(frame index, start)]
    last_end: dict[int, float] = {}
    guest: list[tuple[int, float, int, dict]] = []  # (tid, start, depth, event)

    def close(fid: int, keep: int, at: float) -> None:
        stack = open_[fid]
        while len(stack) > keep:
            i, start = stack.pop()
            f = p.frames[i]
            # Both ends rounded, then the duration between them: rounding ts
            # and dur apart could end a callee 1 ns after its caller, which
            # breaks the nesting trace viewers expect (a CI failure).
            t0, t1 = round(start, 3), round(max(at, start), 3)
            event = {
                "ph": "X", "pid": 1, "tid": fid + 1, "cat": "guest", "name": f.name,
                "ts": t0, "dur": round(t1 - t0, 3),
                "args": {"file": f.path, "line": f.line if lines else f.fn_line},
            }  # fmt: skip
            guest.append((fid + 1, start, len(stack), event))

    for n, s in enumerate(samples):
        start = ts[n]
        end = ts[n + 1] if n + 1 < len(samples) else start + step
        stack = open_.setdefault(s.fiber, [])
        if s.fiber in last_end and last_end[s.fiber] != start:  # another fiber ran in between
            close(s.fiber, 0, last_end[s.fiber])
        keys = [_key(p.frames[i], lines) for i in s.stack]
        same = 0
        while same < len(stack) and same < len(keys) and _key(p.frames[stack[same][0]], lines) == keys[same]:
            same += 1
        close(s.fiber, same, start)
        for i in s.stack[same:]:
            stack.append((i, start))
        last_end[s.fiber] = end
    for fid, end in last_end.items():
        close(fid, 0, end)
    # Parents before their children: a caller and its callee often start (and
    # end) at the same sample, and viewers nest equal slices in file order.
    guest.sort(key=lambda g: (g[0], g[1], g[2]))
    events.extend(g[3] for g in guest)
    for sl in p.slices:
        args = dict(sl.args)
        if sl.fiber is not None:
            args["fiber"] = sl.fiber
        events.append({"ph": "X", "pid": 1, "tid": VM_TID, "cat": sl.kind, "name": sl.name, "ts": round(sl.start * 1e6, 3), "dur": round(sl.dur * 1e6, 3), "args": args})
    return {
        "traceEvents": events,
        "displayTimeUnit": "ms",
        "otherData": {"program": p.program, "mode": p.mode, "interval": p.interval, "unit": p.unit, "instructions": p.instructions, "tier": p.tier},
    }


# --------------------------------------------------------------------------- folded


def folded(p: Profile, lines: bool = False) -> str:
    """`frame;frame;frame weight` per distinct stack (outermost first), the
    input of flamegraph.pl; with several fibers each stack starts with its fiber."""
    several = len({s.fiber for s in p.samples}) > 1
    totals: dict[str, float] = {}
    for s in p.samples:
        parts = [_fiber_name(p, s.fiber)] if several or not s.stack else []
        parts += [_label(p.frames[i], lines).replace(";", ":") for i in s.stack]
        key = ";".join(parts)
        totals[key] = totals.get(key, 0) + s.weight
    ms = p.unit == "milliseconds"
    return "".join(f"{k} {v:.3f}\n" if ms else f"{k} {int(v)}\n" for k, v in sorted(totals.items()))


# --------------------------------------------------------------------------- summary


def function_table(p: Profile, lines: bool = False) -> list[dict]:
    """Per function (or line): self and total weight, most self first."""
    self_w: dict[tuple, float] = {}
    total_w: dict[tuple, float] = {}
    labels: dict[tuple, str] = {}
    for s in p.samples:
        seen = set()
        for i in s.stack:
            k = _key(p.frames[i], lines)
            labels[k] = _label(p.frames[i], lines)
            if k not in seen:
                seen.add(k)
                total_w[k] = total_w.get(k, 0) + s.weight
        if s.stack:
            k = _key(p.frames[s.stack[-1]], lines)
            self_w[k] = self_w.get(k, 0) + s.weight
    rows = [{"function": labels[k], "self": self_w.get(k, 0), "total": t} for k, t in total_w.items()]
    rows.sort(key=lambda r: (-r["self"], -r["total"], r["function"]))
    return rows


def _pct(x: float, total: float) -> str:
    return f"{100.0 * x / total:5.1f}%" if total else "    -"


def summary(p: Profile, top: int = 15) -> str:
    total = p.total_weight()
    unit = "ms" if p.unit == "milliseconds" else p.unit
    if p.mode == "instructions":
        every = f"one per ~{int(p.interval)} dispatches, weighted by the {p.unit} run since the last"
    else:
        every = f"every {p.interval:g} ms of wall time"
    out = [
        (
            f"tvm prof: {p.program}: {p.instructions:,} {p.counted} in {p.seconds:.3f} s ({p.tier}); "
            f"{len(p.fibers) or 1} fiber{'s' if len(p.fibers) > 1 else ''}\n{len(p.samples)} samples, {every}"
        ),
        "",
        f"top functions (self / total, by {unit} sampled):",
        f"  {'self':>7} {'total':>7} {'self ' + unit:>16}  function",
    ]
    for r in function_table(p)[:top]:
        out.append(f"  {_pct(r['self'], total):>7} {_pct(r['total'], total):>7} {r['self']:>16,.0f}  {r['function']}")
    if not p.samples:
        out.append("  (no samples: the program " + ("ran for less than the interval)" if p.mode == "wall" else "ran fewer instructions than the interval)"))
    out += ["", "hot lines (self):"]
    for r in function_table(p, lines=True)[: min(top, 10)]:
        if r["self"]:
            out.append(f"  {_pct(r['self'], total):>7}  {r['function']}")
    per_fiber: dict[int, float] = {}
    for s in p.samples:
        per_fiber[s.fiber] = per_fiber.get(s.fiber, 0) + s.weight
    if len(per_fiber) > 1:
        out += ["", "fibers:"]
        for fid, w in sorted(per_fiber.items(), key=lambda kv: (-kv[1], kv[0])):
            out.append(f"  {_pct(w, total):>7}  {_fiber_name(p, fid)}")
    if p.opcodes:
        n = sum(p.opcodes.values())
        out += ["", "instructions by opcode (estimated: the opcode about to run at each sample):"]
        for op, c in p.opcodes.most_common(top):
            out.append(f"  {_pct(c, n):>7}  {op}")
    g = p.gc
    if g:
        out += [
            "",
            (
                f"GC: {g['collections']} collection{'s' if g['collections'] != 1 else ''}, {g['total_ms']:.2f} ms in all, "
                f"longest {g['max_ms']:.2f} ms, {g['freed_objects']:,} objects freed; heap {g['heap_bytes']:,} bytes now, peak {g['heap_peak_bytes']:,}"
            ),
        ]
    j = p.jit
    if j:
        out += [
            "",
            (
                f"JIT: {j.get('compiled', 0)} compiled in {j.get('compile_ms', 0.0):.1f} ms (longest {j.get('compile_max_ms', 0.0):.1f} ms), "
                f"{j.get('not_compiled', 0)} not compiled, {j.get('deopts', 0)} deopts, {j.get('recompiled', 0)} recompiled, {j.get('given_up', 0)} given up"
            ),
        ]
        for (fn, reason), c in p.deopts.most_common(5):
            out.append(f"  {c:>6} x {fn}: {reason}")
    return "\n".join(out) + "\n"


def alloc_summary(p: Any, top: int = 15) -> str:
    """The terminal summary of an allocation profile (tools/allocprof.py)."""
    total = p.bytes
    counts: dict[str, int] = {}  # label -> allocations made there (self)
    line_counts: dict[str, int] = {}
    for s in p.samples:
        if s.stack:
            f = p.frames[s.stack[-1]]
            counts[_label(f, False)] = counts.get(_label(f, False), 0) + s.count
            line_counts[_label(f, True)] = line_counts.get(_label(f, True), 0) + s.count
    nfib = len({s.fiber for s in p.samples} | set(p.fibers)) or 1
    out = [
        (
            f"tvm prof --alloc: {p.program}: {total:,} bytes in {p.allocations:,} allocations and charges "
            f"in {p.seconds:.3f} s ({p.tier}); {nfib} fiber{'s' if nfib > 1 else ''}"
        ),
        "(accounted bytes, as the heap counts them: docs/memory.md)"
        + ("; under the JIT, lines inside compiled code are approximate" if p.tier.startswith("jit") else ""),
        "",
        "top functions (self / total, by bytes allocated):",
        f"  {'self':>7} {'total':>7} {'self bytes':>14} {'allocs':>9}  function",
    ]
    for r in function_table(p)[:top]:
        out.append(f"  {_pct(r['self'], total):>7} {_pct(r['total'], total):>7} {r['self']:>14,.0f} {counts.get(r['function'], 0):>9,}  {r['function']}")
    outside = sum(s.weight for s in p.samples if not s.stack)
    if outside:
        out.append(f"  {_pct(outside, total):>7} {'':>7} {outside:>14,.0f} {sum(s.count for s in p.samples if not s.stack):>9,}  (outside guest code: the VM and the host)")
    if not p.samples:
        out.append("  (no allocations)")
    out += ["", "hot lines (self):", f"  {'self':>7} {'bytes':>14} {'allocs':>9}  line"]
    for r in function_table(p, lines=True)[: min(top, 10)]:
        if r["self"]:
            out.append(f"  {_pct(r['self'], total):>7} {r['self']:>14,.0f} {line_counts.get(r['function'], 0):>9,}  {r['function']}")
    out += ["", "by type:", f"  {'bytes':>14} {'count':>9}  type"]
    for kind, (b, n) in sorted(p.by_type.items(), key=lambda kv: (-kv[1][0], kv[0]))[:top]:
        out.append(f"  {b:>14,} {n:>9,}  {kind}")
    per_fiber: dict[int, float] = {}
    for s in p.samples:
        per_fiber[s.fiber] = per_fiber.get(s.fiber, 0) + s.weight
    if len(per_fiber) > 1:
        out += ["", "fibers:"]
        for fid, w in sorted(per_fiber.items(), key=lambda kv: (-kv[1], kv[0])):
            at = p.spawned.get(fid)
            where = f", spawned at {_label(p.frames[at[-1]], True)}" if at else ""
            out.append(f"  {_pct(w, total):>7}  {_fiber_name(p, fid)}{where}")
    g = p.gc
    if g:
        out += ["", f"heap: {g['heap_bytes']:,} bytes now, peak {g['heap_peak_bytes']:,}"]
    return "\n".join(out) + "\n"


def render(p: Profile, fmt: str, lines: bool = False, top: int | None = None) -> str:
    """The profile in format `fmt` (one of FORMATS) as text; `top`: rows per
    table of the summary (default 15)."""
    import json

    if fmt == "summary":
        n = top or 15
        return alloc_summary(p, n) if p.mode == "alloc" else summary(p, n)
    if fmt == "chrome" and p.mode == "alloc":
        raise ValueError("an allocation profile has no time line: no Chrome trace (summary, speedscope or folded)")
    if fmt == "folded":
        return folded(p, lines)
    view: dict[str, Any] = speedscope(p, lines) if fmt == "speedscope" else chrome(p, lines)
    return json.dumps(view, separators=(",", ":")) + "\n"
