"""Enums and static members seen from Python (issue 18, tlenum; spec section 13,
"Interop"): an enum value crosses to Python as its member's name."""

from __future__ import annotations

import io

from tinyvm import VM

SOURCE = """
enum Color { Red, Green, Blue }
class Point {
  var x: int = 0
  static let ZERO = 0
  static fn make(x: int) -> Point { let p = Point(); p.x = x; return p }
}
fn red() { return Color.Red }
fn all() { return Color.values() }
fn counts() { return [Color.Red: 1, Color.Blue: 2] }
fn nested() { return {c: Color.Green, xs: [Color.Blue]} }
fn name_of(s) { return typeof(s) }
fn zero() { return Point.ZERO }
"""


def make() -> VM:
    vm = VM(stdout=io.StringIO())
    vm.run_source(SOURCE)
    return vm


def test_enum_value_is_its_name():
    vm = make()
    assert vm.call("red") == "Red"
    assert vm.call("all") == ["Red", "Green", "Blue"]
    assert vm.call("nested") == {"c": "Green", "xs": ["Blue"]}


def test_enum_map_keys_are_names():
    assert make().call("counts") == {"Red": 1, "Blue": 2}


def test_a_name_passed_back_is_a_string():
    vm = make()
    assert vm.call("name_of", vm.call("red")) == "string"


def test_static_members_from_python():
    vm = make()
    assert vm.call("zero") == 0
