"""V8's `.heapsnapshot` format: write a HeapSnapshot (heap/snapshot.py) so
that Chrome DevTools' Memory panel (and memlab, and other V8 tooling) opens
it, and read one back for `tvm heapdiff`.

Why its own module beside heap/snapshot.py: the format is one way of showing
the record (heap/snapshot.py knows the graph, this module only the file
format), and it sits in heap/ because the embedding API writes it
(`vm.heap_snapshot(path)`) and may not import tools/ (docs/architecture.md).

The format (one JSON object):

    {"snapshot": {"meta": {node_fields, node_types, edge_fields, edge_types,
                           trace_function_info_fields, trace_node_fields, ...},
                  "node_count": N, "edge_count": E, "trace_function_count": F},
     "nodes": [type, name, id, self_size, edge_count, trace_node_id, detachedness, ...],
     "edges": [type, name_or_index, to_node, ...],
     "trace_function_infos": [...], "trace_tree": [...],
     "samples": [], "locations": [], "strings": [...]}

Nodes are flat runs of 7 numbers; an edge's `to_node` is the index of the
target's first field in `nodes` (node index x 7), and a node's edges follow
those of the node before it. Names are indexes into `strings`, except an
"element" edge's, which is the element's index. The first node is the
synthetic root.

Allocation sites (heap/sites.py, when recorded) travel as V8's allocation
traces: each site is one function info (name, script, line) and one trace
node, a child of the root trace node; a node's `trace_node_id` names its
site's trace node (0: none). DevTools shows them as the allocation stack;
`read_v8` maps them back to site names for heapdiff.
"""

from __future__ import annotations

import gc
import json
from typing import IO, Any

from .snapshot import EDGE_KINDS, NODE_KINDS, HeapSnapshot

NODE_FIELDS = ["type", "name", "id", "self_size", "edge_count", "trace_node_id", "detachedness"]
EDGE_FIELDS = ["type", "name_or_index", "to_node"]
TRACE_FUNCTION_INFO_FIELDS = ["function_id", "name", "script_name", "script_id", "line", "column"]
TRACE_NODE_FIELDS = ["id", "function_info_index", "count", "size", "children"]
NF = len(NODE_FIELDS)
GUEST_TYPE_PREFIX = "tinyvm type "  # (kept in the strings table: heapdiff reads types back)


def node_id(i: int) -> int:
    """A node's id: odd, as V8's for heap objects (the root is 1)."""
    return 2 * i + 1


def to_v8(s: HeapSnapshot) -> dict[str, Any]:
    """The snapshot as V8's JSON object (see the module docstring)."""
    strings: list[str] = []
    index: dict[str, int] = {}

    def sid(text: str) -> int:
        i = index.get(text)
        if i is None:
            i = index[text] = len(strings)
            strings.append(text)
        return i

    sid("")
    kinds = {k: i for i, k in enumerate(NODE_KINDS)}
    ekinds = {k: i for i, k in enumerate(EDGE_KINDS)}
    # Allocation sites: function infos and a flat trace tree under a root.
    infos: list[int] = []
    children: list[Any] = []
    site_count = [0] * len(s.sites)
    site_size = [0] * len(s.sites)
    for i, site in enumerate(s.site):
        if site:
            site_count[site] += 1
            site_size[site] += s.self_size[i]
    if len(s.sites) > 1:  # (no sites recorded: no traces at all, trace_function_count 0)
        infos += [0, sid("(root)"), sid(""), 0, 0, 0]
        for k in range(1, len(s.sites)):
            name, script, line = _split_site(s.sites[k])
            infos += [k, sid(name), sid(script), 0, line, 0]
            children += [k + 1, k, site_count[k], site_size[k], []]  # (V8 nests trace nodes as flat runs of 5)
    trace_tree = [1, 0, 0, 0, children] if infos else []
    nodes: list[int] = []
    for i in range(s.node_count):
        n_edges = s.first_edge[i + 1] - s.first_edge[i]
        site = s.site[i]
        nodes += [kinds[s.kind[i]], sid(s.name[i]), node_id(i), s.self_size[i], n_edges, site + 1 if site else 0, 0]
    edges: list[int] = []
    for e in range(s.edge_count):
        kind = s.edge_kind[e]
        name = s.edge_name[e]
        edges += [ekinds[kind], name if kind == "element" else sid(str(name)), s.edge_to[e] * NF]
    # The guest type of each node, for heapdiff (a V8 reader ignores it):
    # one string per distinct type, after the others.
    types = sorted(set(s.type))
    type_strings = [sid(GUEST_TYPE_PREFIX + t) for t in types]
    type_of = {t: k for k, t in enumerate(types)}
    return {
        "snapshot": {
            "meta": {
                "node_fields": NODE_FIELDS,
                "node_types": [list(NODE_KINDS), "string", "number", "number", "number", "number", "number"],
                "edge_fields": EDGE_FIELDS,
                "edge_types": [list(EDGE_KINDS), "string_or_number", "node"],
                "trace_function_info_fields": TRACE_FUNCTION_INFO_FIELDS,
                "trace_node_fields": TRACE_NODE_FIELDS,
                "sample_fields": ["timestamp_us", "last_assigned_id"],
                "location_fields": ["object_index", "script_id", "line", "column"],
            },
            "node_count": s.node_count,
            "edge_count": s.edge_count,
            "trace_function_count": len(infos) // len(TRACE_FUNCTION_INFO_FIELDS),
            # TinyVM's own: the guest type of each node, as an index into
            # tinyvm_types (whose entries index `strings`).
            "tinyvm_types": type_strings,
        },
        # The order of the keys matters: DevTools' loader reads the file as a
        # stream, each array after the one before, and `strings` last.
        "nodes": nodes,
        "edges": edges,
        "trace_function_infos": infos,
        "trace_tree": trace_tree,
        "samples": [],
        "locations": [],
        "tinyvm_node_types": [type_of[t] for t in s.type],
        "strings": strings,
    }


def _split_site(site: str) -> tuple[str, str, int]:
    """"fn (path:line)" -> (fn, path, line)."""
    if site.endswith(")") and " (" in site:
        name, _, place = site[:-1].rpartition(" (")
        path, _, line = place.rpartition(":")
        if line.isdigit():
            return name, path, int(line)
    return site, "", 0


def write_v8(s: HeapSnapshot, path_or_file: str | IO[str]) -> None:
    """Write the snapshot as a `.heapsnapshot` file (compact JSON). CPython's
    cyclic collector is paused while the big lists are built (none is garbage)."""
    was = gc.isenabled()
    gc.disable()
    try:
        data = to_v8(s)
    finally:
        if was:
            gc.enable()
    if isinstance(path_or_file, str):
        with open(path_or_file, "w", encoding="utf-8") as f:
            json.dump(data, f, separators=(",", ":"))
    else:
        json.dump(data, path_or_file, separators=(",", ":"))


# --------------------------------------------------------------------------- reading


class SnapshotFormatError(ValueError):
    """Not a heap snapshot this reader understands (the message says why)."""


def read_v8(path: str) -> dict[str, Any]:
    """A `.heapsnapshot` file as rows: {"nodes": [{"type", "name", "kind",
    "self_size", "site"}...], "node_count", "edge_count"}. Types come from
    TinyVM's own table when the file has it, else from V8's node type and
    name (a snapshot written by Chrome or Node compares by constructor)."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as e:
        raise SnapshotFormatError(f"cannot read {path}: {e.strerror or e}") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise SnapshotFormatError(f"{path}: not a heap snapshot (invalid JSON: {e})") from None
    try:
        meta = data["snapshot"]["meta"]
        fields = meta["node_fields"]
        kinds = meta["node_types"][0]
        nodes = data["nodes"]
        strings = data["strings"]
        nf = len(fields)
        f_type, f_name, f_size = fields.index("type"), fields.index("name"), fields.index("self_size")
        f_trace = fields.index("trace_node_id") if "trace_node_id" in fields else -1
        sites = _trace_sites(data, meta, strings)
        own = data.get("tinyvm_node_types")
        own_types = data["snapshot"].get("tinyvm_types")
        rows = []
        for k in range(len(nodes) // nf):
            base = k * nf
            kind = kinds[nodes[base + f_type]]
            name = strings[nodes[base + f_name]]
            if own is not None and own_types is not None:
                t = strings[own_types[own[k]]][len(GUEST_TYPE_PREFIX) :]
            else:
                t = name if kind in ("object", "closure", "native") else f"({kind})"
            site = sites.get(nodes[base + f_trace], "(unknown)") if f_trace >= 0 else "(unknown)"
            rows.append({"type": t, "name": name, "kind": kind, "self_size": nodes[base + f_size], "site": site})
        return {"nodes": rows, "node_count": len(rows), "edge_count": len(data.get("edges", ())) // max(1, len(meta["edge_fields"]))}
    except (KeyError, IndexError, TypeError, ValueError) as e:
        raise SnapshotFormatError(f"{path}: not a V8 heap snapshot ({type(e).__name__}: {e})") from None


def _trace_sites(data: dict, meta: dict, strings: list) -> dict[int, str]:
    """trace node id -> "fn (script:line)", from the allocation traces (TinyVM
    writes them flat: one child of the root per site)."""
    infos = data.get("trace_function_infos") or []
    tree = data.get("trace_tree") or []
    if not infos or not tree:
        return {}
    ff = meta["trace_function_info_fields"]
    nfi = len(ff)
    fname, fscript, fline = ff.index("name"), ff.index("script_name"), ff.index("line")
    out: dict[int, str] = {}
    stack = [tree]  # flat runs of [id, function_info_index, count, size, [children]]
    while stack:
        run = stack.pop()
        for k in range(0, len(run) - 4, 5):
            tid, fi, children = run[k], run[k + 1], run[k + 4]
            base = fi * nfi
            name, script, line = strings[infos[base + fname]], strings[infos[base + fscript]], infos[base + fline]
            out[tid] = f"{name} ({script}:{line})" if script else name
            stack.append(children)
    return out
