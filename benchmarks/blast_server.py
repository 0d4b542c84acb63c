"""A Hydra-speaking server that sends pre-encoded events as fast as the socket takes them.

The simulator builds every event as it goes (several microseconds each), so a client
measured against it is waiting on the server. For the ingest benchmark the server
must be faster than any client: this one does the Hydra handshake (``connected``,
then the ``subscribed`` reply) with websockets, then writes pre-encoded WebSocket text
frames straight to the transport, in blocks of about 1 MiB that end on a frame boundary,
so a pong websockets writes in between (to the client's keepalive ping) lands between
frames, never inside one.

Run: ``python benchmarks/blast_server.py --events 200000 --ready-file PATH``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import time
from pathlib import Path

import orjson
from websockets.asyncio.server import ServerConnection, serve
from websockets.frames import Frame, Opcode

CATEGORIES = ["CYBER", "NAVAL", "AIRSPACE", "MARKET_MOVEMENT", "SOCIAL_MEDIA", "OTHER"]


def encode_events(count: int, block: int = 1 << 20) -> list[bytes]:
    """Small Hydra ``signal_new`` events, as unmasked WebSocket text frames, joined into
    blocks of about ``block`` bytes, each ending where a frame ends."""
    rng = random.Random(0)
    now = int(time.time() * 1000)
    frames = []
    for seq in range(1, count + 1):
        event = {
            "stream": "signals",
            "type": "signal_new",
            "ts": now + seq,
            "data": {
                "id": f"sig-{seq:09d}",
                "seq": seq,
                "title": "Unusual activity detected",
                "category": CATEGORIES[seq % len(CATEGORIES)],
                "severity": rng.randint(1, 5),
                "lat": round(rng.uniform(-60, 60), 4),
                "lng": round(rng.uniform(-180, 180), 4),
                "tags": ["auto", "sim"],
                "createdAt": now + seq,
            },
        }
        frames.append(Frame(Opcode.TEXT, orjson.dumps(event)).serialize(mask=False, extensions=[]))
    blocks, current, size = [], [], 0
    for frame in frames:
        current.append(frame)
        size += len(frame)
        if size >= block:
            blocks.append(b"".join(current))
            current, size = [], 0
    if current:
        blocks.append(b"".join(current))
    return blocks


async def serve_blast(events: int, ready_file: Path | None) -> None:
    chunk = 1 << 20
    blocks = encode_events(events, chunk)

    async def handler(ws: ServerConnection) -> None:
        now = int(time.time() * 1000)
        await ws.send(
            orjson.dumps(
                {
                    "type": "connected",
                    "ts": now,
                    "data": {
                        "sessionId": "sess-bench",
                        "address": "0xbench",
                        "availableStreams": ["signals"],
                        "serverTime": now,
                    },
                }
            ).decode()
        )
        await ws.recv()  # the subscribe command
        await ws.send(
            orjson.dumps(
                {
                    "type": "subscribed",
                    "ts": now,
                    "data": {
                        "subscribed": ["signals"],
                        "rejected": [],
                        "rejectedReason": {},
                        "active": ["signals"],
                    },
                }
            ).decode()
        )
        transport = ws.transport
        for block in blocks:
            transport.write(block)
            while transport.get_write_buffer_size() > 4 * chunk:
                await asyncio.sleep(0.0005)
        await ws.wait_closed()

    async with serve(
        handler, "127.0.0.1", 0, compression=None, ping_interval=None, max_queue=None
    ) as server:
        port = server.sockets[0].getsockname()[1]
        if ready_file is not None:
            tmp = ready_file.with_suffix(".tmp")
            tmp.write_text(str(port))
            os.replace(tmp, ready_file)
        await asyncio.Future()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--ready-file", type=Path)
    args = parser.parse_args()
    asyncio.run(serve_blast(args.events, args.ready_file))


if __name__ == "__main__":
    main()
