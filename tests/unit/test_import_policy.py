"""The command line's import policy (cli/main.py, lang/sources.py): a
program's imports may read its folder and below, and what --allow-read
grants; anything else is a compile error at the import (status 2) that reads
the same whether or not the file exists and shows none of its lines. The same
for `tvm run`, `tvm check`, `tvm disasm` and `tvmc`."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from tinyvm.cli.main import main, tvmc_main
from tinyvm.cli.repl import run_repl
from tinyvm.stdlib.capabilities import grants_from

SECRET = "TOPSECRET line"
OUTSIDE = "outside the program's folder (--allow-read=PATH lets imports read more)"


def tvm(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, stdin=io.StringIO(""), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def tvmc(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    return tvmc_main(argv, stderr=err, stdout=io.StringIO()), err.getvalue()


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The current directory: secret.tl, data/d.tl, prog/ (the program's folder)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "secret.tl").write_text(f"{SECRET} )(\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "d.tl").write_text("export fn d() { return 4 }\n")
    (tmp_path / "prog" / "lib").mkdir(parents=True)
    (tmp_path / "prog" / "lib" / "geo.tl").write_text("export fn two() { return 2 }\n")
    (tmp_path / "prog" / "lib" / "deep.tl").write_text('import "./geo" as g\nexport fn three() { return g.two() + 1 }\n')
    return tmp_path


def prog(text: str, name: str = "main.tl") -> str:
    Path("prog", name).write_text(text)
    return f"prog/{name}"


def test_imports_below_the_programs_folder_work(tree: Path) -> None:
    assert tvm(["run", prog('import "./lib/deep" as d\nprint(d.three())\n')]) == (0, "3\n", "")


@pytest.mark.parametrize("spec", ["../secret", "../nosuch", "./lib/../../secret"])
def test_an_import_outside_is_a_compile_error_at_the_import(tree: Path, spec: str) -> None:
    code, out, err = tvm(["run", prog(f'let x = 1\n  import "{spec}" as s\n')])
    assert (code, out) == (2, "")
    assert err.splitlines()[0] == f'prog/main.tl:2:3: error: cannot import "{spec}": {OUTSIDE}'
    assert SECRET not in err


def test_existence_outside_is_not_revealed(tree: Path) -> None:
    there = tvm(["run", prog('import "../secret" as s\n')])[2]
    absent = tvm(["run", prog('import "../nosuch" as s\n')])[2]
    assert there.replace("secret", "X") == absent.replace("nosuch", "X")


def test_absolute_and_symlinked_escapes_are_refused(tree: Path) -> None:
    err = tvm(["run", prog(f'import "{tree / "secret"}" as s\n')])[2]
    assert f'cannot import "{tree / "secret"}": {OUTSIDE}' in err and SECRET not in err
    (tree / "prog" / "link.tl").symlink_to(tree / "secret.tl")
    err = tvm(["run", prog('import "./link" as s\n')])[2]
    assert f'cannot import "./link": {OUTSIDE}' in err and SECRET not in err


def test_allow_read_extends_what_imports_may_read(tree: Path) -> None:
    main_tl = prog('import "../data/d" as d\nprint(d.d())\n')
    assert tvm(["run", main_tl])[0] == 2
    assert tvm(["run", "--allow-read=data", main_tl]) == (0, "4\n", "")
    # A scope elsewhere does not cover it; the message then names both.
    code, _, err = tvm(["run", "--allow-read=prog", prog('import "../secret" as s\n')])
    assert code == 2 and "outside the program's folder and the paths --allow-read grants" in err and SECRET not in err
    # --allow-read with no scope reads every file, imports included: the secret's lines then show.
    code, _, err = tvm(["run", "--allow-read", prog('import "../secret" as s\n')])
    assert code == 2 and SECRET in err


def test_check_disasm_and_tvmc_follow_the_same_policy(tree: Path) -> None:
    main_tl = prog('import "../data/d" as d\nprint(d.d())\n')
    for command in ("check", "disasm"):
        code, _, err = tvm([command, main_tl])
        assert code == 2 and f'cannot import "../data/d": {OUTSIDE}' in err
        assert tvm([command, "--allow-read=data", main_tl])[0] == 0
    code, err = tvmc([main_tl, "-o", "out.tvm"])
    assert code == 2 and f'cannot import "../data/d": {OUTSIDE}' in err and not Path("out.tvm").exists()
    assert tvmc(["--allow-read=data", main_tl, "-o", "out.tvm"]) == (0, "")
    assert tvm(["run", "out.tvm"]) == (0, "4\n", "")  # the bundle holds the import: no file read at run time


def test_code_given_with_e_imports_from_the_current_folder(tree: Path) -> None:
    assert tvm(["run", "-e", 'import "./data/d" as d\nprint(d.d())\n']) == (0, "4\n", "")
    code, _, err = tvm(["run", "-e", 'import "../x" as x\n'])
    assert code == 2 and err.startswith('<string>:1:1: error: cannot import "../x": outside the current folder')


def test_the_repl_imports_from_the_current_folder(tree: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    entries = 'import "./data/d" as d\nd.d()\nimport "../x" as x\n'
    run_repl(io.StringIO(entries), out, err)
    assert "4 : int" in out.getvalue()
    assert '<repl>:1:1: error: cannot import "../x": outside the current folder' in err.getvalue()
    out, err = io.StringIO(), io.StringIO()
    run_repl(io.StringIO('import "../x" as x\n'), out, err, allow=grants_from([("read", ["data"])]))
    assert "outside the current folder and the paths --allow-read grants" in err.getvalue()
