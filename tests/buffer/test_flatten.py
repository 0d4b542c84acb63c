"""Tests of the payload flattening rules."""

from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from streamwidgets.buffer.flatten import explode_records, flatten
from streamwidgets.buffer.rows import PendingRows
from streamwidgets.events import Event
from tests.support import strategies

json_values = strategies.json_values(
    st.text(max_size=3).filter(lambda k: "." not in k), max_leaves=12
)
# Keys of dots and two letters: paths of one payload collide often.
dotted_values = strategies.json_values(st.text(alphabet="ab.", max_size=3), max_leaves=12)


def pending(values: list) -> PendingRows:
    rows = PendingRows({})
    for i, value in enumerate(values):
        rows.add(Event("s", "t", value, received_ns=i))
    return rows


def pending_as_rows(values: list) -> list[dict]:
    """Rows rebuilt from the pending columns, null cells left out."""
    columns = pending(values).columns
    return [
        {name: column[i] for name, column in columns.items() if column[i] is not None}
        for i in range(len(values))
    ]


def flattened(value) -> dict:
    """flatten(), null cells left out and lists as the tuples pending rows hold."""
    flat = flatten(value).items()
    return {k: tuple(v) if isinstance(v, list) else v for k, v in flat if v is not None}


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
    assert pending_as_rows([{"a.b": 1, "a": {"b": 2}}]) == [{"data.a.b": 2}]
    assert pending_as_rows([{"a": {"b": 2}, "a.b": 1}, {1: "x", "1": "y"}]) == [
        {"data.a.b": 1},
        {"data.1": "y"},
    ]


def test_pending_rows_same_keys_give_full_columns():
    """Rows with the same keys give one full column each, in order of the keys."""
    columns = pending([{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]).columns
    assert columns == {"data.a": [1, 2], "data.b": ["x", "y"]}


def test_pending_rows_leave_none_where_a_row_lacks_a_column():
    """A column appears when a field first does; rows without it hold None there."""
    columns = pending([{"a": 1}, {"b": {"c": 2}}, 5, {"a": None}]).columns
    assert list(columns) == ["data.a", "data.b.c", "data"]
    assert columns["data.a"] == [1, None, None, None]
    assert columns["data.b.c"] == [None, 2, None, None]
    assert columns["data"] == [None, None, 5, None]


def test_pending_rows_dict_and_scalar_at_same_path():
    """A field that is a dict in one row and a scalar in another gives two columns."""
    assert pending_as_rows([{"x": {"y": 1}}, {"x": 2}, {"x": None}]) == [
        {"data.x.y": 1},
        {"data.x": 2},
        {},
    ]
    assert list(pending([{"x": {"y": 1}}, {"x": None}]).columns) == ["data.x.y", "data.x"]


def test_pending_rows_hold_lists_as_tuples():
    """Lists are held as tuples (untracked by the garbage collector), items as they are."""
    columns = pending([{"t": ["a", "b"]}, {"t": [[1], {"k": 2}]}]).columns
    assert columns["data.t"] == [("a", "b"), ([1], {"k": 2})]


@settings(max_examples=150, deadline=None)
@given(st.lists(json_values, max_size=8))
def test_pending_rows_agree_with_flatten(values):
    """Flattening into pending columns gives exactly flatten()'s result for any JSON, and
    the columns in order of first appearance."""
    assert pending_as_rows(values) == [flattened(v) for v in values]
    order = dict.fromkeys(name for v in values for name in flatten(v))
    assert list(pending(values).columns) == list(order)


@settings(max_examples=150, deadline=None)
@given(st.lists(dotted_values, max_size=8))
def test_pending_rows_agree_with_flatten_when_paths_collide(values):
    """Keys holding dots name the same column twice in one payload: the last wins."""
    assert pending_as_rows(values) == [flattened(v) for v in values]
    order = dict.fromkeys(name for v in values for name in flatten(v))
    assert list(pending(values).columns) == list(order)


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
