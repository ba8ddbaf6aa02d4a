"""`tvm heapdiff A B`: what grew between two heap snapshots, by type and by
allocation site -- the first question of a leak hunt (docs/gc.md).

Why compare aggregates, not objects: node ids are not stable across
snapshots of different runs (a snapshot is written at exit, or on
MemoryError), while "3000 more Point instances, all made in `make
(leak.tl:3)`" is stable and is what points at the leak. Snapshots written
by Chrome or Node compare too (by constructor name; they have no TinyVM
sites).

`diff(a, b)` is the record (both files read by heap/v8snapshot.read_v8);
`format_text` and the JSON dump are its views.
"""

from __future__ import annotations

from typing import Any

from ..heap.v8snapshot import read_v8

SYNTHETIC = "synthetic"


def _aggregate(rows: list[dict[str, Any]], key: str) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for r in rows:
        if r["kind"] == SYNTHETIC:
            continue
        acc = out.get(r[key])
        if acc is None:
            acc = out[r[key]] = [0, 0]
        acc[0] += 1
        acc[1] += r["self_size"]
    return out


def _table(a: dict[str, list[int]], b: dict[str, list[int]], label: str) -> list[dict[str, Any]]:
    rows = []
    for k in set(a) | set(b):
        ca, sa = a.get(k, (0, 0))
        cb, sb = b.get(k, (0, 0))
        if ca == cb and sa == sb:
            continue
        rows.append({label: k, "count_a": ca, "count_b": cb, "count_delta": cb - ca, "bytes_a": sa, "bytes_b": sb, "bytes_delta": sb - sa})
    rows.sort(key=lambda r: (-r["bytes_delta"], -r["count_delta"], r[label]))
    return rows


def diff(path_a: str, path_b: str) -> dict[str, Any]:
    """Growth from snapshot file A to B (raises SnapshotFormatError)."""
    a, b = read_v8(path_a), read_v8(path_b)
    ra, rb = a["nodes"], b["nodes"]
    objs_a = [r for r in ra if r["kind"] != SYNTHETIC]
    objs_b = [r for r in rb if r["kind"] != SYNTHETIC]
    bytes_a = sum(r["self_size"] for r in objs_a)
    bytes_b = sum(r["self_size"] for r in objs_b)
    has_sites = any(r["site"] != "(unknown)" for r in objs_a) or any(r["site"] != "(unknown)" for r in objs_b)
    return {
        "a": path_a,
        "b": path_b,
        "totals": {"count_a": len(objs_a), "count_b": len(objs_b), "count_delta": len(objs_b) - len(objs_a), "bytes_a": bytes_a, "bytes_b": bytes_b, "bytes_delta": bytes_b - bytes_a},
        "by_type": _table(_aggregate(objs_a, "type"), _aggregate(objs_b, "type"), "type"),
        "by_site": _table(_aggregate(objs_a, "site"), _aggregate(objs_b, "site"), "site") if has_sites else None,
    }


def format_text(d: dict[str, Any], top: int = 20) -> str:
    t = d["totals"]
    lines = [
        f"heap growth from {d['a']} to {d['b']}:",
        f"  {t['count_a']} -> {t['count_b']} nodes ({t['count_delta']:+d}), {t['bytes_a']} -> {t['bytes_b']} bytes ({t['bytes_delta']:+d})",
    ]
    sections = [("by type", "type", d["by_type"])]
    if d["by_site"] is not None:
        sections.append(("by allocation site", "site", d["by_site"]))
    for title, key, rows in sections:
        lines += ["", f"{title}:", f"  {'bytes':>12} {'count':>9} {'now bytes':>12} {'now count':>9}  {key}"]
        if not rows:
            lines.append("  (no change)")
        for r in rows[:top]:
            lines.append(f"  {r['bytes_delta']:>+12d} {r['count_delta']:>+9d} {r['bytes_b']:>12d} {r['count_b']:>9d}  {r[key]}")
        if len(rows) > top:
            lines.append(f"  ... {len(rows) - top} more (--top N)")
    if d["by_site"] is None:
        lines += ["", "(no allocation sites in these snapshots: write them with tvm run --alloc-sites --heap-snapshot=FILE)"]
    return "\n".join(lines)
