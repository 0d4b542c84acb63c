"""Pusher: the Channels protocol (``channels``), the session-token feed (``session_feed``
with its REST steps in ``session``), and a Pusher app (``app``, with ``endpoints``)."""
