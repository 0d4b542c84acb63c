"""The widget's contract, written once per side: protocol.py and protocol.js must agree,
and both halves must use them (no message kind written out as a bare string).

protocol.js is read as text (see :func:`tests.widget.sources.js_groups`), protocol.py is
imported; every group, name and value must be the same on both sides.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from streamwidgets.buffer.export import EXPORT_FORMATS
from streamwidgets.widget import protocol
from streamwidgets.widget import widget as widget_module
from streamwidgets.widget.widget import StreamWidget
from tests.widget.sources import (
    js_groups,
    js_kind_literals,
    js_literals,
    js_references,
    py_kind_literals,
    py_literals,
    py_references,
)

ROOT = Path(__file__).resolve().parents[2]
PROTOCOL_JS = ROOT / "js" / "src" / "protocol.js"
PROTOCOL_PY = ROOT / "streamwidgets" / "widget" / "protocol.py"
JS_MODULES = sorted(p for p in (ROOT / "js" / "src").glob("*.js") if p != PROTOCOL_JS)
PY_MODULES = sorted(p for p in (ROOT / "streamwidgets" / "widget").glob("*.py") if p != PROTOCOL_PY)


def _group(cls: type) -> dict[str, object]:
    return {name: value for name, value in vars(cls).items() if name.isupper()}


PY_GROUPS = {name: _group(getattr(protocol, name)) for name in protocol.__all__}
JS_GROUPS = js_groups(PROTOCOL_JS.read_text(encoding="utf-8"))
KINDS = {*PY_GROUPS["ToBrowser"].values(), *PY_GROUPS["ToKernel"].values()}


def _where(path: Path, line: int) -> str:
    return f"{path.relative_to(ROOT)}:{line}"


# --- the two files agree -----------------------------------------------------------


def test_both_sides_have_the_same_groups() -> None:
    assert set(PY_GROUPS) == set(JS_GROUPS), (
        f"only in protocol.py: {sorted(set(PY_GROUPS) - set(JS_GROUPS))}; "
        f"only in protocol.js: {sorted(set(JS_GROUPS) - set(PY_GROUPS))}"
    )
    # Not vacuous: the groups hold what the widget needs.
    assert {"Trait", "ToBrowser", "ToKernel", "Limit"} <= set(PY_GROUPS)


@pytest.mark.parametrize("group", sorted(PY_GROUPS))
def test_each_group_has_the_same_names_and_values(group: str) -> None:
    py, js = PY_GROUPS[group], JS_GROUPS.get(group, {})
    assert py, f"protocol.py's {group} is empty"
    problems = [f"{name}: only in protocol.py" for name in sorted(set(py) - set(js))]
    problems += [f"{name}: only in protocol.js" for name in sorted(set(js) - set(py))]
    problems += [
        f"{name}: protocol.py says {py[name]!r}, protocol.js says {js[name]!r}"
        for name in sorted(set(py) & set(js))
        if py[name] != js[name] or isinstance(py[name], str) != isinstance(js[name], str)
    ]
    assert not problems, f"{group} differs: " + "; ".join(problems)


@pytest.mark.parametrize("group", ["Trait", "BrowserState", "ToBrowser", "ToKernel"])
def test_no_word_has_two_names(group: str) -> None:
    words = list(PY_GROUPS[group].values())
    assert len(words) == len(set(words)), words


def test_the_traits_are_exactly_the_widgets_synced_traits() -> None:
    base = set(StreamWidget.__mro__[1].class_trait_names(sync=True))
    own = set(StreamWidget.class_trait_names(sync=True)) - base
    assert own == set(PY_GROUPS["Trait"].values()), (
        f"synced but not in the contract: {sorted(own - set(PY_GROUPS['Trait'].values()))}; "
        f"in the contract but not synced: {sorted(set(PY_GROUPS['Trait'].values()) - own)}"
    )


def test_the_widgets_arguments_and_traits_default_to_the_limits() -> None:
    params = inspect.signature(StreamWidget.__init__).parameters
    limit = protocol.Limit
    for name, default in (
        ("recent", limit.RECENT_DEFAULT),
        ("max_points", limit.MAX_POINTS_DEFAULT),
        ("update_hz", limit.UPDATE_HZ_DEFAULT),
    ):
        assert params[name].default == default, name
        assert StreamWidget.class_traits()[name].default_value == default, name


def test_the_export_formats_are_the_buffers() -> None:
    assert set(PY_GROUPS["ExportFormat"].values()) == set(EXPORT_FORMATS)


def test_every_browser_request_has_a_handler_in_the_kernel() -> None:
    assert set(widget_module._BROWSER_COMMANDS) == set(PY_GROUPS["ToKernel"].values())


# --- both halves use the names ------------------------------------------------------


def _js_refs() -> dict[Path, list[tuple[str, str]]]:
    return {p: js_references(p.read_text(encoding="utf-8"), set(JS_GROUPS)) for p in JS_MODULES}


def _py_refs() -> dict[Path, list[tuple[str, str]]]:
    return {p: py_references(p.read_text(encoding="utf-8"), set(PY_GROUPS)) for p in PY_MODULES}


@pytest.mark.parametrize("side", ["js", "py"])
def test_every_name_used_is_in_the_contract(side: str) -> None:
    refs, groups = (_js_refs(), JS_GROUPS) if side == "js" else (_py_refs(), PY_GROUPS)
    unknown = [
        f"{path.relative_to(ROOT)}: {group}.{name}"
        for path, found in refs.items()
        for group, name in found
        if name not in groups[group]
    ]
    assert not unknown, f"names not in the contract (undefined at run time): {unknown}"


@pytest.mark.parametrize(
    ("side", "group"),
    [
        ("py", "ToBrowser"),  # the kernel sends each kind
        ("js", "ToBrowser"),  # ...and the browser handles it
        ("js", "ToKernel"),  # the browser sends each request
        ("py", "ToKernel"),  # ...and the kernel handles it
        ("js", "Trait"),  # the browser reads every trait
    ],
)
def test_every_kind_and_trait_is_used_on_both_sides(side: str, group: str) -> None:
    refs = _js_refs() if side == "js" else _py_refs()
    used = {name for found in refs.values() for g, name in found if g == group}
    unused = sorted(set(PY_GROUPS[group]) - used)
    assert not unused, f"{group} names no {side} module uses: {unused}"


#: Kind words a module may hold as plain words, not as kinds: (module, word) -> how often.
#: A new use anywhere else, or one more here, fails.
WORDS_NOT_KINDS = {
    ("controls.js", "chart"): 1,  # the label of the field picker's row
    ("controls.js", "subscribe"): 1,  # the stream toggles' data-mode, styled by widget.css
    ("download.js", "export"): 1,  # the file name when the kernel gave none
    ("snapshot_view.js", "chart"): 1,  # the alt text of a saved chart without a caption
}


def _bare_kinds(side: str) -> list[str]:
    # Two rules: a literal (any word, a misspelt kind too) where a message's kind is set
    # or compared; and a kind's word as a literal anywhere else in code, but for the
    # counted plain words above.
    found = []
    if side == "js":
        modules, every, in_kind = JS_MODULES, js_literals, js_kind_literals
    else:
        modules, every, in_kind = PY_MODULES, py_literals, py_kind_literals
    for path in modules:
        text = path.read_text(encoding="utf-8")
        words = [x for x in every(text) if x.value in KINDS]
        for word in {x.value for x in words}:
            uses = [x for x in words if x.value == word]
            if len(uses) != WORDS_NOT_KINDS.get((path.name, word), 0):
                found += [f"{_where(path, x.line)} {x.value!r}" for x in uses]
        found += [f"{_where(path, x.line)} kind {x.value!r}" for x in in_kind(text)]
    return sorted(set(found))


@pytest.mark.parametrize("side", ["js", "py"])
def test_no_module_writes_a_message_kind_as_a_string(side: str) -> None:
    bare = _bare_kinds(side)
    assert not bare, (
        "use the protocol's ToBrowser/ToKernel names, not the words "
        "(or, for a word that is no kind, count it in WORDS_NOT_KINDS): " + "; ".join(bare)
    )


def test_the_scans_read_every_module_and_find_what_is_there() -> None:
    """Guards the scans against passing for having read nothing."""
    assert len(JS_MODULES) >= 10 and len(PY_MODULES) >= 5
    js_count = sum(len(js_literals(p.read_text(encoding="utf-8"))) for p in JS_MODULES)
    py_count = sum(len(py_literals(p.read_text(encoding="utf-8"))) for p in PY_MODULES)
    assert js_count > 300 and py_count > 100, (js_count, py_count)
    refs = sum(len(found) for found in _js_refs().values())
    assert refs > 40, refs


JS_PLANTED = """
// "update" in a comment is a word, not code; /* "hello" */ too
const ok = "sw-clear", re = /["']update["']/g, t = `change:${Trait.STATE}`;
send({ kind: "hello", view });
if (msg.kind === "updat") return;
if ("download" !== msg?.kind) return;
const x = `${ "window" }`;
const y = a / b / c, z = 'clear';
"""


def test_the_javascript_scan_finds_planted_kinds_and_skips_comments() -> None:
    values = [lit.value for lit in js_literals(JS_PLANTED)]
    assert "update" not in values and '"hello" ' not in "".join(values)
    assert {"hello", "updat", "download", "window", "clear", "change:"} <= set(values)
    assert "sw-clear" in values
    kinds = sorted((lit.line, lit.value) for lit in js_kind_literals(JS_PLANTED))
    assert kinds == [(4, "hello"), (5, "updat"), (6, "download")]
    refs = js_references(JS_PLANTED, {"Trait"})
    assert refs == [("Trait", "STATE")]


PY_PLANTED = '''
"""The "update" message."""
def f(kind, content):
    """Sends "window"."""
    send({"kind": "update"})
    if kind == "helo":
        pass
    if content.get("kind") in ("pause", "resume"):
        pass
    x = f"{kind} chart"
    return "export"
'''


def test_the_python_scan_finds_planted_kinds_and_skips_docstrings() -> None:
    values = {lit.value for lit in py_literals(PY_PLANTED)}
    assert {"update", "helo", "pause", "resume", "export"} <= values
    assert "window" not in values and 'The "update" message.' not in values
    kinds = sorted((lit.line, lit.value) for lit in py_kind_literals(PY_PLANTED))
    assert kinds == [(5, "update"), (6, "helo"), (8, "pause"), (8, "resume")]
