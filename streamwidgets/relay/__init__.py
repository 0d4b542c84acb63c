"""The relay: one connection's frames into Redis, and Redis read back as a feed.

``relay`` runs the connection; ``sink`` writes to Redis; ``target`` names where;
``feed`` reads a relayed feed; ``bridge`` serves it over a loopback socket.
"""
