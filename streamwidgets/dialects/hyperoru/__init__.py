"""Hyperoru: the stream (``dialect``), its request helpers (``requests``), chat (``chat``)."""
