"""The value model's operations, shared by every execution tier.

    errors.py     how guest errors travel: RtError, Throw, GuestException, TraceFrame;
                  HostIOError, a failed standard stream of the host
    values.py     type names, printing, equality, ordering, map keys
    arith.py      the exact semantics of every operator
    builtins.py   the global built-in functions (print, len, str, ...)
    methods.py    the methods of arrays, strings and maps
    prelude.tl    runtime library code written in TinyLang (map, filter, sort(key),
                  formatting of values with a str() method)
    dialects.py   run-time rules per language (what the shared instructions do
                  where languages differ), selected by ModuleCode.lang
    lox_rules.py  Lox's rules (clox's semantics and messages)

Nothing here runs guest code or knows the dispatch loop: functions that need
the VM (to allocate, to read its output stream) take it as an argument. The
package imports only bytecode/ and heap/.
"""
