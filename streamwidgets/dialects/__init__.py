"""Feed dialects: one module per feed style, no I/O inside."""

from .base import CloseAction, CloseDecision, ConnectTarget, Dialect, Keepalive, Outgoing

__all__ = ["CloseAction", "CloseDecision", "ConnectTarget", "Dialect", "Keepalive", "Outgoing"]
