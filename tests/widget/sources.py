"""Readers of the widget's source text for the contract test: protocol.js's groups, the
string literals of JavaScript and Python modules, and the protocol names they use.

The JavaScript reader is a tokenizer, not a parser: it knows comments, strings, template
literals (with their ``${...}`` code) and regular-expression literals, which is all it
takes to tell a string in code from words in a comment.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass

__all__ = [
    "Literal",
    "js_groups",
    "js_kind_literals",
    "js_literals",
    "js_references",
    "py_kind_literals",
    "py_literals",
    "py_references",
]

_GROUP = re.compile(
    r"^export const (\w+) = (?:/\* @__PURE__ \*/ )?Object\.freeze\(\{\n(.*?)\n\}\);$",
    re.MULTILINE | re.DOTALL,
)
_ENTRY = re.compile(r'^([A-Z][A-Z0-9_]*): ("(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?),$')


@dataclass(frozen=True)
class Literal:
    """A string literal found in a source file (a template literal's text parts count)."""

    line: int
    value: str


def js_groups(text: str) -> dict[str, dict[str, object]]:
    """The ``export const Name = Object.freeze({...})`` groups of protocol.js.

    Raises ValueError on a line inside a group that is neither an entry nor a comment,
    and on an ``export const`` that is not such a group, so nothing is skipped unread.
    """
    groups: dict[str, dict[str, object]] = {}
    for match in _GROUP.finditer(text):
        name, body = match.group(1), match.group(2)
        entries: dict[str, object] = {}
        for raw in body.splitlines():
            line = raw.strip()
            if not line or line.startswith("//"):
                continue
            entry = _ENTRY.match(line)
            if entry is None:
                raise ValueError(f"protocol.js, group {name}: cannot read {line!r}")
            if entry.group(1) in entries:
                raise ValueError(f"protocol.js, group {name}: {entry.group(1)} twice")
            entries[entry.group(1)] = json.loads(entry.group(2))
        groups[name] = entries
    exported = re.findall(r"^export const (\w+)", text, re.MULTILINE)
    unread = sorted(set(exported) - set(groups))
    if unread:
        raise ValueError(f"protocol.js exports {unread} in a form the contract cannot read")
    return groups


# --- JavaScript ---------------------------------------------------------------------

# After these, a "/" starts a regular expression, not a division.
_REGEX_AFTER_CHARS = set("(,=:[!&|?{};+-*%<>~^")
_REGEX_AFTER_WORDS = {"return", "typeof", "case", "in", "of", "delete", "void", "throw", "new"}


class _JsScanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0
        self.literals: list[Literal] = []
        # The code with comments dropped and each string as a STR<n> token.
        self.code: list[str] = []

    def line(self, at: int | None = None) -> int:
        return self.text.count("\n", 0, self.at if at is None else at) + 1

    def _regex_allowed(self) -> bool:
        code = "".join(self.code[-40:]).rstrip()
        if not code:
            return True
        if code[-1] in _REGEX_AFTER_CHARS:
            return True
        word = re.search(r"(\w+)$", code)
        return word is not None and word.group(1) in _REGEX_AFTER_WORDS

    def _string(self, quote: str) -> None:
        start, text = self.at, self.text
        self.at += 1
        chars: list[str] = []
        while text[self.at] != quote:
            if text[self.at] == "\\":
                chars.append(text[self.at : self.at + 2])
                self.at += 2
                continue
            if text[self.at] == "\n":
                raise ValueError(f"unterminated string at line {self.line(start)}")
            chars.append(text[self.at])
            self.at += 1
        self.at += 1
        self._keep(start, "".join(chars))

    def _keep(self, start: int, value: str) -> None:
        self.code.append(f" STR{len(self.literals)} ")
        self.literals.append(Literal(self.line(start), value))

    def _template(self) -> None:
        text = self.text
        self.at += 1
        start, chars = self.at, []
        while text[self.at] != "`":
            if text[self.at] == "\\":
                chars.append(text[self.at : self.at + 2])
                self.at += 2
            elif text.startswith("${", self.at):
                self._keep(start, "".join(chars))
                self.at += 2
                self.scan(until="}")
                self.at += 1
                start, chars = self.at, []
            else:
                chars.append(text[self.at])
                self.at += 1
        self._keep(start, "".join(chars))
        self.at += 1

    def _regex(self) -> None:
        text, in_class = self.text, False
        self.at += 1
        while True:
            c = text[self.at]
            if c == "\\":
                self.at += 2
                continue
            if c == "\n":
                raise ValueError(f"unterminated regular expression at line {self.line()}")
            self.at += 1
            if c == "[":
                in_class = True
            elif c == "]":
                in_class = False
            elif c == "/" and not in_class:
                break
        self.code.append(" REGEX ")

    def scan(self, until: str | None = None) -> None:
        text, depth = self.text, 0
        while self.at < len(text):
            c = text[self.at]
            if until is not None and depth == 0 and c == until:
                return
            if text.startswith("//", self.at):
                end = text.find("\n", self.at)
                self.at = len(text) if end < 0 else end
            elif text.startswith("/*", self.at):
                end = text.find("*/", self.at + 2)
                if end < 0:
                    raise ValueError(f"unterminated comment at line {self.line()}")
                self.at = end + 2
                self.code.append(" ")
            elif c in "\"'":
                self._string(c)
            elif c == "`":
                self._template()
            elif c == "/" and self._regex_allowed():
                self._regex()
            else:
                if c == "{":
                    depth += 1
                elif c == "}":
                    depth -= 1
                self.code.append(c)
                self.at += 1
        if until is not None:
            raise ValueError(f"unterminated ${{...}} in a template literal in line {self.line()}")


def _scan_js(text: str) -> _JsScanner:
    scanner = _JsScanner(text)
    scanner.scan()
    return scanner


def js_literals(text: str) -> list[Literal]:
    """Every string literal of a JavaScript module (comments left out)."""
    return _scan_js(text).literals


_JS_KIND_AFTER = re.compile(r"\bkind\s*(?::|[!=]==?)\s*STR(\d+)\b")
_JS_KIND_BEFORE = re.compile(r"\bSTR(\d+)\s*[!=]==?\s*[\w.?]*\bkind\b")


def js_kind_literals(text: str) -> list[Literal]:
    """String literals a JavaScript module uses as a message's ``kind`` (``kind: "..."``,
    ``msg.kind === "..."``), whatever the word."""
    scanner = _scan_js(text)
    code = "".join(scanner.code)
    found = {int(m.group(1)) for p in (_JS_KIND_AFTER, _JS_KIND_BEFORE) for m in p.finditer(code)}
    return [scanner.literals[i] for i in sorted(found)]


def js_references(text: str, groups: set[str]) -> list[tuple[str, str]]:
    """``(group, NAME)`` for each ``Group.NAME`` in the code of a JavaScript module."""
    code = "".join(_scan_js(text).code)
    pattern = re.compile(r"(?<![\w.$])(" + "|".join(map(re.escape, groups)) + r")\.(\w+)")
    return [(m.group(1), m.group(2)) for m in pattern.finditer(code)]


# --- Python -------------------------------------------------------------------------


def _docstring_ids(tree: ast.AST) -> set[int]:
    # A string standing alone as a statement is documentation (docstrings included).
    return {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    }


def py_literals(source: str) -> list[Literal]:
    """Every string constant of a Python module in code (docstrings left out; an
    f-string's text parts count)."""
    tree = ast.parse(source)
    docs = _docstring_ids(tree)
    return [
        Literal(node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs
    ]


def _mentions_kind(node: ast.AST) -> bool:
    for part in ast.walk(node):
        if isinstance(part, ast.Name) and part.id == "kind":
            return True
        if isinstance(part, ast.Attribute) and part.attr == "kind":
            return True
        if isinstance(part, ast.Constant) and part.value == "kind":
            return True
    return False


def py_kind_literals(source: str) -> list[Literal]:
    """String constants a Python module uses as a message's ``kind``: the value of a
    ``"kind"`` key in a dict display, or compared with something named ``kind``."""
    found: list[Literal] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if (
                    isinstance(key, ast.Constant)
                    and key.value == "kind"
                    and isinstance(value, ast.Constant)
                ):
                    found.append(Literal(value.lineno, str(value.value)))
        elif isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if not any(_mentions_kind(side) for side in sides):
                continue
            for side in sides:
                items = side.elts if isinstance(side, (ast.Tuple, ast.List, ast.Set)) else [side]
                for item in items:
                    if (
                        isinstance(item, ast.Constant)
                        and isinstance(item.value, str)
                        and item.value != "kind"
                    ):
                        found.append(Literal(item.lineno, item.value))
    return found


def py_references(source: str, groups: set[str]) -> list[tuple[str, str]]:
    """``(group, NAME)`` for each ``Group.NAME`` in a Python module."""
    return [
        (node.value.id, node.attr)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id in groups
    ]
