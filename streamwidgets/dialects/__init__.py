"""Feed dialects: what each feed's frames say and what to send it.

A dialect implements :class:`streamwidgets.connection.dialect.Dialect`: it parses
frames into events and control messages and writes subscribe, keepalive and request
frames; it never touches a socket. Feeds that need an HTTP step before or while
connecting (a token exchange, a session bootstrap, channel authorisation) make it
through :mod:`streamwidgets.connection.rest`. One module per feed; a feed that needs
several has a subpackage (``axol/``, ``pusher/``, ``hyperoru/``).
"""
