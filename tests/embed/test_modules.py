"""Imports of embedded programs go through a loader the host controls
(lang/sources.py, docs/modules.md): in-memory modules (`VM(modules={...})`),
a virtual filesystem object, a folder (`VM(import_root=...)`, `run_file`'s
default); nothing outside is read, nor shown in a message, and a refusal
reads the same whether or not the file exists."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest

from tinyvm import VM
from tinyvm.bytecode.tvmfile import dump_bundle, write_file
from tinyvm.lang.diagnostics import CompileError
from tinyvm.lang.driver import compile_program
from tinyvm.lang.sources import DirectorySources, MemorySources, SourceDenied, SourceSet
from tinyvm.runtime.errors import GuestException

SECRET = "TOPSECRET line of a file the guest may not read"
# A file whose lines must never appear in a message: a compile error on its first line.
SECRET_SOURCE = f"{SECRET} )(\nexport fn s() {{ return 1 }}\n"


def run(vm: VM, text: str) -> str:
    """What the program `text` printed."""
    out = io.StringIO()
    vm.machine.stdout = out
    vm.run_source(text)
    return out.getvalue()


def compile_error(fn, *args) -> str:
    with pytest.raises(CompileError) as info:
        fn(*args)
    return info.value.render()


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """tmp/secret.tl (outside), tmp/prog/ (the program's folder), tmp/data/d.tl."""
    (tmp_path / "secret.tl").write_text(SECRET_SOURCE)
    (tmp_path / "prog" / "lib").mkdir(parents=True)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "d.tl").write_text("export fn d() { return 4 }\n")
    (tmp_path / "prog" / "util.tl").write_text("export fn two() { return 2 }\n")
    (tmp_path / "prog" / "lib" / "b.tl").write_text('import "../util" as u\nexport fn three() { return u.two() + 1 }\n')
    return tmp_path


def write_main(tree: Path, text: str) -> str:
    main = tree / "prog" / "main.tl"
    main.write_text(text)
    return str(main)


# --------------------------------------------------------------------------- in memory

MODULES = {
    "util.tl": 'import "./lib/b" as b\nexport fn two() { return b.one() + 1 }\n',
    "lib/b.tl": 'import "../base" as base\nexport fn one() { return base.ONE }\n',
    "base.tl": "export let ONE = 1\n",
}


def test_in_memory_modules_import_each_other() -> None:
    assert run(VM(modules=MODULES), 'import "./util" as u\nprint(u.two())\n') == "2\n"
    assert run(VM(modules=MODULES), 'import "./lib/b" as b\nprint(b.one())\n') == "1\n"


def test_in_memory_tvm_module_is_bytes() -> None:
    tvm = dump_bundle(compile_program("fast.tl", source="export fn f() { return 40 + 2 }\n"))
    assert run(VM(modules={"fast.tvm": tvm}), 'import "./fast" as f\nprint(f.f())\n') == "42\n"
    text = compile_error(VM(modules={"fast.tvm": "not bytes"}).run_source, 'import "./fast" as f\n')
    assert '<string>:1:1: error: cannot load fast.tvm: not a .tvm file' in text


@pytest.mark.parametrize("spec", ["../base", "./../base", "/base", "/etc/passwd", "./lib/../../base"])
def test_in_memory_modules_refuse_paths_outside(spec: str) -> None:
    text = compile_error(VM(modules=MODULES).run_source, f'import "{spec}" as x\n')
    assert text.startswith(f'<string>:1:1: error: cannot import "{spec}": outside the modules given to the VM')


def test_a_missing_in_memory_module_is_not_found() -> None:
    text = compile_error(VM(modules=MODULES).run_source, 'import "./nope" as x\n')
    assert text.startswith('<string>:1:1: error: cannot find module "./nope"')


@pytest.mark.parametrize("modules", [{"../x.tl": ""}, {"/abs.tl": ""}, {".": ""}])
def test_in_memory_module_paths_are_relative_and_below(modules: dict) -> None:
    with pytest.raises(ValueError, match="not a relative path below"):
        VM(modules=modules)


def test_modules_must_be_a_dict_or_a_source_set() -> None:
    with pytest.raises(TypeError, match="expected a dict or a SourceSet"):
        VM(modules=42)
    with pytest.raises(TypeError, match="expected str paths to str or bytes"):
        VM(modules={"a.tl": 1})
    with pytest.raises(ValueError, match="not both"):
        VM(modules={}, import_root=".")


# --------------------------------------------------------------------------- defaults


def test_run_source_imports_no_files_by_default(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tree / "prog")  # util.tl is right here: still not importable
    text = compile_error(VM().run_source, 'import "./util" as u\n')
    assert text.startswith('<string>:1:1: error: cannot import "./util": this VM allows no file imports')
    assert "modules=" in text and "import_root=" in text


def test_run_file_imports_from_the_files_folder_and_below(tree: Path) -> None:
    out = io.StringIO()
    VM(stdout=out).run_file(write_main(tree, 'import "./lib/b" as b\nprint(b.three())\n'))
    assert out.getvalue() == "3\n"
    main = write_main(tree, 'import "../data/d" as d\nprint(d.d())\n')
    assert 'cannot import "../data/d": outside the program\'s folder' in compile_error(VM().run_file, main)
    out = io.StringIO()
    VM(stdout=out, allow={"read": [str(tree / "data")]}).run_file(main)  # reading covers imports
    assert out.getvalue() == "4\n"


def test_import_root(tree: Path) -> None:
    vm = VM(import_root=str(tree / "prog"))
    assert run(vm, 'import "./lib/b" as b\nprint(b.three())\n') == "3\n"
    assert "outside the VM's import root" in compile_error(vm.run_source, 'import "../data/d" as d\n')
    # A file below the root: its imports are relative to it and may go up to the root.
    (tree / "prog" / "lib" / "main.tl").write_text('import "../util" as u\nprint(u.two())\n')
    out = io.StringIO()
    VM(stdout=out, import_root=str(tree / "prog")).run_file(str(tree / "prog" / "lib" / "main.tl"))
    assert out.getvalue() == "2\n"


# --------------------------------------------------------------------------- folders: refusals


@pytest.mark.parametrize("spec", ["../secret", "../nosuch", "./lib/../../secret", "./lib/../../nosuch"])
def test_dotdot_out_of_the_folder_is_refused_alike(tree: Path, spec: str) -> None:
    text = compile_error(VM().run_file, write_main(tree, f'import "{spec}" as s\n'))
    assert text.splitlines()[0] == f'{tree / "prog" / "main.tl"}:1:1: error: cannot import "{spec}": outside the program\'s folder'
    assert SECRET not in text


@pytest.mark.parametrize("name", ["secret", "nosuch"])
def test_absolute_paths_outside_are_refused_alike(tree: Path, name: str) -> None:
    spec = str(tree / name)
    text = compile_error(VM().run_file, write_main(tree, f'import "{spec}" as s\n'))
    assert f'cannot import "{spec}": outside the program\'s folder' in text and SECRET not in text


def test_absolute_path_inside_the_folder_is_allowed(tree: Path) -> None:
    out = io.StringIO()
    VM(stdout=out).run_file(write_main(tree, f'import "{tree / "prog" / "util"}" as u\nprint(u.two())\n'))
    assert out.getvalue() == "2\n"


@pytest.mark.parametrize("target", ["secret.tl", "nosuch.tl"])
def test_symlinked_file_leaving_the_folder_is_refused(tree: Path, target: str) -> None:
    (tree / "prog" / "link.tl").symlink_to(tree / target)
    text = compile_error(VM().run_file, write_main(tree, 'import "./link" as s\n'))
    assert 'cannot import "./link": outside the program\'s folder' in text and SECRET not in text


def test_symlinked_folder_leaving_the_folder_is_refused(tree: Path) -> None:
    (tree / "prog" / "up").symlink_to(tree)
    text = compile_error(VM().run_file, write_main(tree, 'import "./up/secret" as s\n'))
    assert 'cannot import "./up/secret": outside the program\'s folder' in text and SECRET not in text


def test_symlink_inside_the_folder_is_followed(tree: Path) -> None:
    (tree / "prog" / "alias.tl").symlink_to(tree / "prog" / "util.tl")
    out = io.StringIO()
    VM(stdout=out).run_file(write_main(tree, 'import "./alias" as u\nprint(u.two())\n'))
    assert out.getvalue() == "2\n"


def test_tvm_import_outside_is_refused_and_inside_allowed(tree: Path) -> None:
    write_file(tree / "outside.tvm", compile_program(str(tree / "data" / "d.tl")))
    text = compile_error(VM().run_file, write_main(tree, 'import "../outside.tvm" as o\n'))
    assert 'cannot import "../outside.tvm": outside the program\'s folder' in text
    write_file(tree / "prog" / "inside.tvm", compile_program(str(tree / "data" / "d.tl")))
    out = io.StringIO()
    VM(stdout=out).run_file(write_main(tree, 'import "./inside" as i\nprint(i.d())\n'))
    assert out.getvalue() == "4\n"


def test_a_fifo_is_never_read(tree: Path) -> None:
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    os.mkfifo(tree / "prog" / "pipe.tl")
    sources = DirectorySources(str(tree / "prog"))
    assert not sources.exists("pipe.tl")  # so an import of it is "cannot find module"
    with pytest.raises(OSError, match="not a regular file"):  # and a read does not wait for a writer
        sources.read("pipe.tl")


def test_directory_sources_decide_by_the_path_alone(tree: Path) -> None:
    sources = DirectorySources(str(tree / "prog"))
    for path in ("../secret.tl", "../nosuch.tl", str(tree / "secret.tl")):
        with pytest.raises(SourceDenied) as a:
            sources.exists(path)
        with pytest.raises(SourceDenied) as b:
            sources.read(path)
        assert a.value.reason == b.value.reason == "outside the program's folder"
    assert sources.exists("lib/b.tl") and not sources.exists("lib/none.tl")


# --------------------------------------------------------------------------- messages


def test_errors_of_an_allowed_import_show_its_lines_refused_ones_never(tree: Path) -> None:
    (tree / "prog" / "bad.tl").write_text(SECRET_SOURCE)  # inside: the program may read it
    text = compile_error(VM().run_file, write_main(tree, 'import "./bad" as b\n'))
    assert SECRET in text
    for spec in ("../secret", str(tree / "secret")):
        text = compile_error(VM().run_file, write_main(tree, f'import "{spec}" as b\n'))
        assert "TOPSECRET" not in text


def test_crafted_tvm_claiming_a_forbidden_path_shows_no_lines_of_it(tree: Path) -> None:
    """Code objects whose path is the secret file's: a runtime error there
    shows file:line:col, never the file's lines."""
    crafted = compile_program(str(tree / "secret.tl"), source='export fn boom() {\n  throw Error("boom")\n}\n')
    write_file(tree / "prog" / "crafted.tvm", crafted)
    with pytest.raises(GuestException) as info:
        VM().run_file(write_main(tree, 'import "./crafted" as c\nc.boom()\n'))
    shown = info.value.render() + "\n".join(info.value.trace)
    assert "secret.tl:2:3" in shown
    assert "TOPSECRET" not in shown


def test_run_time_imports_never_read_files(tree: Path) -> None:
    """The VM resolves IMPORT keys against the bundle only: a module missing
    from it is not found, even with the file beside the program."""
    bundle = compile_program(write_main(tree, 'import "./util" as u\nprint(u.two())\n'))
    del bundle.modules["util"]
    with pytest.raises(GuestException) as info:
        VM().run_bundle(bundle)
    assert 'cannot find module "util"' in info.value.message


# --------------------------------------------------------------------------- a virtual filesystem


class ZipSources:
    """The docs/modules.md example: a plugin's modules in one zip file."""

    def __init__(self, zip_path: str) -> None:
        self.zip = zipfile.ZipFile(zip_path)
        self.names = set(self.zip.namelist())

    def describe(self) -> str:
        return "the plugin's archive"

    def _check(self, path: str) -> str:
        if path.startswith(("/", "../")):
            raise SourceDenied("outside the plugin's archive")
        return path

    def exists(self, path: str) -> bool:
        return self._check(path) in self.names

    def read(self, path: str) -> bytes:
        if self._check(path) not in self.names:
            raise FileNotFoundError(0, "No such module")
        return self.zip.read(path)


def test_a_zip_backed_virtual_filesystem(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "plugin.zip", "w") as z:
        for name, text in MODULES.items():
            z.writestr(name, text)
        z.writestr("shapes.lox", "fun area(w, h) { return w * h; }\n")
        z.writestr("bad.tl", "let = \n")
    sources = ZipSources(str(tmp_path / "plugin.zip"))
    assert isinstance(sources, SourceSet)
    vm = VM(modules=sources)
    assert run(vm, 'import "./util" as u\nimport "./shapes" as s\nprint(u.two(), s.area(2, 3))\n') == "2 6.0\n"  # (a Lox number is a float)
    assert 'cannot import "../x": outside the plugin\'s archive' in compile_error(vm.run_source, 'import "../x" as x\n')
    # A compile error in a module of the set shows its line (the guest may read it).
    assert "bad.tl:1:5: error:" in compile_error(vm.run_source, 'import "./bad" as b\n')


def test_a_host_source_set_is_asked_only_for_the_imports(tmp_path: Path) -> None:
    asked: list[str] = []

    class Logged(MemorySources):
        def exists(self, path: str) -> bool:
            asked.append(path)
            return super().exists(path)

    vm = VM(modules=Logged(MODULES))
    run(vm, 'import "./base" as b\nprint(b.ONE)\n')
    assert asked == ["base.tl"]  # the importer's own extension is tried first


def test_a_source_set_returning_neither_text_nor_bytes_is_a_host_error() -> None:
    class Broken(MemorySources):
        def read(self, path: str):  # a host bug: the driver names it rather than failing deep inside
            return None

    with pytest.raises(TypeError, match=r"Broken.read\('a.tl'\) returned NoneType, not str or bytes"):
        VM(modules=Broken({"a.tl": ""})).run_source('import "./a" as a\n')


def test_an_import_spec_with_a_nul_character_is_refused_cleanly(tmp_path):
    # os calls raise ValueError for a NUL in a path: it once escaped as a
    # host traceback from DirectorySources.locate (corpus F7).
    from tinyvm.lang.diagnostics import CompileError

    main = tmp_path / "main.tl"
    main.write_text('import "./a\\0b" as a\n')
    vm = VM(import_root=str(tmp_path))
    with pytest.raises(CompileError) as info:
        vm.run_file(str(main))
    text = info.value.render()
    assert 'cannot import "./a\\x00b": a path cannot contain a NUL character' in text
    assert "\0" not in text
