"""Pusher: the Channels protocol (``channels``), the session-token feed (``session_feed``
with its REST bootstrap in ``bootstrap``), and a Pusher app (``app``, with ``endpoints``)."""
