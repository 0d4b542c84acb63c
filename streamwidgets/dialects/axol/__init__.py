"""Axol: the channel stream (``channels``), its key exchange (``auth``), and the
single-purpose endpoints (``endpoints``)."""
