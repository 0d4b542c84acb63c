"""Document-only WebSocket servers, for testing the client against what the feeds promise.

Each module speaks one feed exactly as its public document and the further public notes
show it, and nothing more, unless a test asks for a hostile variation. Every reply names
the document line it comes from. They share no code with the client or its simulators, so
neither can teach the other a reply no document shows.

- :mod:`.base`: a restartable WebSocket server on 127.0.0.1 and a minimal HTTP server.
- :mod:`.hydra`: document 000 ("Hydra" JWT stream).
- :mod:`.hydra_v1`: document 001 ("Hydra v1" API-key stream).
- :mod:`.pusher`: document 002 (Pusher-compatible stream, Pusher protocol 7 from NOTES).
- :mod:`.axol`: document 003 ("Axol" channel stream and its token exchange).
- :mod:`.hyperoru`: document 004 ("Hyperoru" account stream).
"""

from .axol import AxolServer
from .base import HttpServer, WsServer
from .hydra import HydraServer
from .hydra_v1 import HydraV1Server
from .hyperoru import HyperoruServer
from .pusher import PusherServer

__all__ = [
    "AxolServer",
    "HttpServer",
    "HydraServer",
    "HydraV1Server",
    "HyperoruServer",
    "PusherServer",
    "WsServer",
]
