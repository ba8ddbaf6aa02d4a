"""Standard modules cannot be shadowed (issue 11, item 6): `import NAME` is
always the standard module and a file is always imported by its path; the
compiler and the VM keep the two namespaces apart (bytecode.code.is_file_spec,
Machine.std_modules)."""

from __future__ import annotations

import io
from pathlib import Path

from tinyvm.cli.main import main


def run(path: Path, *flags: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["run", *flags, str(path)], stdin=io.StringIO(), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_a_local_file_named_like_a_standard_module_does_not_shadow_it(tmp_path):
    (tmp_path / "math.tl").write_text('export fn sqrt(x) { return "mine" }\nexport let pi = 3\n')
    main_tl = tmp_path / "main.tl"
    main_tl.write_text('import math\nimport "./math" as m\nprint(math.sqrt(4.0), math.pi > 3.14, m.sqrt(1), m.pi)\n')
    assert run(main_tl) == (0, "2.0 true mine 3\n", "")
    # The other order of imports, and `from` imports of both.
    main_tl.write_text('import "./math" as m\nfrom math import sqrt\nfrom "./math" import pi\nprint(sqrt(9.0), m.sqrt(0), pi)\n')
    assert run(main_tl) == (0, "3.0 mine 3\n", "")


def test_a_main_module_named_like_a_standard_module_imports_the_standard_one(tmp_path):
    fs_tl = tmp_path / "fs.tl"
    fs_tl.write_text(f'import fs\nprint(typeof(fs.exists))\nprint(fs.exists("{fs_tl}"))\n')
    assert run(fs_tl, f"--allow-read={tmp_path}") == (0, "function\ntrue\n", "")


def test_a_file_import_needs_a_path(tmp_path):
    (tmp_path / "math.tl").write_text("export let pi = 3\n")
    main_tl = tmp_path / "main.tl"
    main_tl.write_text('import "math" as m\nprint(m.pi)\n')
    code, out, err = run(main_tl)
    assert (code, out) == (2, "")
    assert err.startswith(f'{main_tl}:1:1: error: the path of a file import starts with "./", "../" or "/": "math"')
