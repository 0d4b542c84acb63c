"""Hyperoru's model chat: streamed chunks in the buffer, one assembled row per decision.

Each ``model_chat_update`` is one chunk of one AI decision (``decision_id``, ``seq`` from
0, ``chunk`` text, ``done`` on the last one, which also carries ``action``, ``symbol`` and
``confidence``). The buffer keeps every chunk as a row; :func:`assemble_chat` joins them.

Example:
    >>> import pandas as pd
    >>> rows = pd.DataFrame({
    ...     "type": ["model_chat_update"] * 3,
    ...     "data.decision_id": ["d1", "d1", "d1"],
    ...     "data.seq": [1, 0, 2],
    ...     "data.chunk": ["BTC ", "Buying ", "now."],
    ...     "data.done": [False, False, True],
    ... })
    >>> assemble_chat(rows)[["decision_id", "text", "complete"]].to_dict("records")
    [{'decision_id': 'd1', 'text': 'Buying BTC now.', 'complete': True}]
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from streamwidgets.dialects._config import require_counts

__all__ = ["CHAT_COLUMNS", "assemble_chat"]

#: The columns :func:`assemble_chat` returns, in order.
CHAT_COLUMNS = (
    "decision_id",
    "account_id",
    "model",
    "text",
    "chunks",
    "complete",
    "missing",
    "action",
    "symbol",
    "confidence",
    "first_at",
    "last_at",
)
_TYPE = "model_chat_update"
#: Highest chunk number read; a larger ``seq`` is a bad frame, not 10**9 missing chunks.
_MAX_SEQ = 100_000


def assemble_chat(
    frame: pd.DataFrame, *, max_decisions: int = 1000, max_chars: int = 100_000
) -> pd.DataFrame:
    """Join each decision's chunks in ``seq`` order: one row per decision, newest last.

    Tolerant of what a live stream does: chunks out of order or repeated (a repeat of a
    ``seq`` counts once, the last copy wins), chunks missing (listed in ``missing``; the
    text has ``[…]`` where they were), the last chunk not yet arrived (``complete`` is
    False), rows of other types (ignored). ``complete`` means the ``done`` chunk and every
    chunk before it arrived.

    Args:
        frame: a buffer DataFrame (``w.df``, ``stream.df``), any types mixed.
        max_decisions: keep only the decisions seen last, at most this many.
        max_chars: cut each text at this length (marked with ``…``).

    Returns:
        A DataFrame with :data:`CHAT_COLUMNS`; ``first_at``/``last_at`` are the receive
        times of the decision's first and last chunk when the frame has ``received_at``.

    Example:
        >>> assemble_chat(pd.DataFrame()).columns.tolist()[:4]
        ['decision_id', 'account_id', 'model', 'text']
    """
    require_counts(max_decisions=max_decisions, max_chars=max_chars)
    needed = {"type", "data.decision_id", "data.seq", "data.chunk"}
    if frame.empty or not needed <= set(frame.columns):
        return pd.DataFrame(columns=list(CHAT_COLUMNS))
    rows = frame[frame["type"] == _TYPE]
    rows = rows[rows["data.decision_id"].notna() & rows["data.seq"].notna()]
    if rows.empty:
        return pd.DataFrame(columns=list(CHAT_COLUMNS))
    order = pd.unique(rows["data.decision_id"].astype(str))[-max_decisions:]
    groups = dict(tuple(rows.groupby(rows["data.decision_id"].astype(str), sort=False)))
    return pd.DataFrame(
        [_decision(str(d), groups[d], max_chars) for d in order], columns=list(CHAT_COLUMNS)
    )


def _decision(decision_id: str, rows: pd.DataFrame, max_chars: int) -> dict[str, Any]:
    chunks: dict[int, str] = {}
    for seq, chunk in zip(rows["data.seq"], rows["data.chunk"], strict=True):
        if 0 <= int(seq) <= _MAX_SEQ:
            chunks[int(seq)] = "" if _missing(chunk) else str(chunk)
    done = _column(rows, "data.done")
    last_seq = max(
        (int(s) for s, d in zip(rows["data.seq"], done, strict=True) if d is True), default=None
    )
    if last_seq is not None and last_seq > _MAX_SEQ:
        last_seq = None
    top = last_seq if last_seq is not None else max(chunks, default=-1)
    missing = [s for s in range(top + 1) if s not in chunks]
    parts = []
    for seq in range(top + 1):
        parts.append(chunks.get(seq, "[…]"))
    text = "".join(parts)
    if len(text) > max_chars:
        text = text[: max_chars - 1] + "…"
    final = rows[[d is True for d in done]]
    source = final if not final.empty else rows
    received = rows["received_at"] if "received_at" in rows.columns else None
    return {
        "decision_id": decision_id,
        "account_id": _last(source, "data.account_id"),
        "model": _last(source, "data.model"),
        "text": text,
        "chunks": len(chunks),
        "complete": last_seq is not None and not missing,
        "missing": missing,
        "action": _last(final, "data.action"),
        "symbol": _last(final, "data.symbol"),
        "confidence": _last(final, "data.confidence"),
        "first_at": received.min() if received is not None else None,
        "last_at": received.max() if received is not None else None,
    }


def _column(rows: pd.DataFrame, name: str) -> list[Any]:
    if name not in rows.columns:
        return [None] * len(rows)
    return [None if _missing(v) else bool(v) for v in rows[name]]


def _last(rows: pd.DataFrame, name: str) -> Any:
    if rows.empty or name not in rows.columns:
        return None
    values = [v for v in rows[name] if not _missing(v)]
    return values[-1] if values else None


def _missing(value: Any) -> bool:
    return value is None or (not isinstance(value, (list, dict, str)) and bool(pd.isna(value)))
