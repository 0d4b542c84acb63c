"""Hypothesis strategies shared by the property tests."""

from __future__ import annotations

from hypothesis import strategies as st

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=5)
)


def json_values(keys: st.SearchStrategy[str], *, max_leaves: int) -> st.SearchStrategy[object]:
    """Arbitrary nested JSON values whose object keys come from ``keys``.

    Keys never hold a ``.``: a dotted key could collide with a flattened path,
    which the buffer resolves by a documented "last wins" rule instead.
    """
    return st.recursive(
        SCALARS,
        lambda children: (
            st.lists(children, max_size=3) | st.dictionaries(keys, children, max_size=4)
        ),
        max_leaves=max_leaves,
    )
