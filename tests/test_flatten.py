"""Tests of the payload flattening rules."""

from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from streamwidgets.flatten import MISSING, assemble, explode_records, flatten, flatten_columns

from . import strategies

json_values = strategies.json_values(
    st.text(max_size=3).filter(lambda k: "." not in k), max_leaves=12
)


def columns_as_rows(values: list) -> list[dict]:
    """Rows rebuilt from flatten_columns output, absent cells left out."""
    rows: list[dict] = [{} for _ in values]
    for name, parts in flatten_columns(values).items():
        for part_rows, part_values, _ in parts:
            for i, v in zip(
                part_rows if part_rows is not None else range(len(values)), part_values, strict=True
            ):
                rows[i][name] = v
    return rows


def test_flatten_nested_dicts_use_dotted_names():
    """Nested dicts become dotted columns under the prefix; lists stay leaves."""
    payload = {"severity": 3, "position": {"lat": 1.5, "lng": {"deg": 2}}, "tags": ["a"]}
    assert flatten(payload) == {
        "data.severity": 3,
        "data.position.lat": 1.5,
        "data.position.lng.deg": 2,
        "data.tags": ["a"],
    }


def test_flatten_scalar_payload_goes_to_prefix():
    """A payload that is not a dict is stored whole under the prefix."""
    assert flatten(7) == {"data": 7}
    assert flatten(None) == {"data": None}
    assert flatten([1, 2], prefix="p") == {"p": [1, 2]}


def test_flatten_names_match_json_normalize():
    """Column names agree with pd.json_normalize, empty dicts included."""
    payload = {"a": {"b": 1, "c": {"d": "x"}}, "e": {}, "f": None, "g": [1]}
    expected = pd.json_normalize({"data": payload}).columns.tolist()
    assert sorted(flatten(payload)) == sorted(expected)


def test_flatten_non_str_keys_and_collisions_do_not_raise():
    """Non-str keys are formatted with str; colliding paths keep the last value."""
    assert flatten({1: "x"}) == {"data.1": "x"}
    assert flatten({"a.b": 1, "a": {"b": 2}}) == {"data.a.b": 2}
    assert columns_as_rows([{"a.b": 1, "a": {"b": 2}}]) == [{"data.a.b": 2}]


def test_flatten_columns_homogeneous_rows():
    """Rows with the same keys give one full-coverage part per column."""
    cols = flatten_columns([{"a": 1, "b": "x"}, {"a": 2, "b": "y"}])
    assert list(cols) == ["data.a", "data.b"]
    assert cols["data.a"] == [(None, (1, 2), {int})]


def test_flatten_columns_heterogeneous_rows_leave_gaps():
    """Rows lacking a key are not covered; assemble fills them with None."""
    cols = flatten_columns([{"a": 1}, {"b": {"c": 2}}, 5, {"a": None}])
    assert list(cols) == ["data", "data.a", "data.b.c"]
    assert assemble(cols["data.a"], 4) == [1, None, None, None]
    assert assemble(cols["data.b.c"], 4) == [None, 2, None, None]
    assert assemble(cols["data"], 4) == [None, None, 5, None]
    assert all(v is not MISSING for parts in cols.values() for p in parts for v in p[1])


def test_flatten_columns_dict_and_scalar_at_same_path():
    """A field that is a dict in one row and a scalar in another gives two columns."""
    rows = columns_as_rows([{"x": {"y": 1}}, {"x": 2}, {"x": None}])
    assert rows == [{"data.x.y": 1}, {"data.x": 2}, {"data.x": None}]


@settings(max_examples=150, deadline=None)
@given(st.lists(json_values, max_size=8))
def test_flatten_columns_agrees_with_flatten(values):
    """Column-wise flattening gives exactly the row-wise result for any JSON."""
    assert columns_as_rows(values) == [flatten(v) for v in values]


def test_explode_records_repeats_siblings():
    """Each list item becomes a payload with the sibling fields shared."""
    data = {"count": 2, "positions": [{"x": 1}, {"x": 2}], "ts": 5}
    rows = list(explode_records(data, ("positions",)))
    assert rows == [
        {"count": 2, "positions": {"x": 1}, "ts": 5},
        {"count": 2, "positions": {"x": 2}, "ts": 5},
    ]
    assert data["positions"] == [{"x": 1}, {"x": 2}]  # input untouched


def test_explode_records_nested_path_empty_and_missing():
    """A nested path works; an empty list gives nothing; no list gives None."""
    data = {"a": {"b": [1, 2], "c": 3}}
    assert list(explode_records(data, ("a", "b"))) == [
        {"a": {"b": 1, "c": 3}},
        {"a": {"b": 2, "c": 3}},
    ]
    assert list(explode_records({"a": {"b": []}}, ("a", "b"))) == []
    assert explode_records({"a": {}}, ("a", "b")) is None
    assert explode_records({"a": 5}, ("a", "b")) is None
    assert explode_records({"a": {"b": "xy"}}, ("a", "b")) is None
    assert explode_records(3, ("a",)) is None
