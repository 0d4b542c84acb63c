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
from typing import Any

import orjson
from websockets.asyncio.server import ServerConnection, serve
from websockets.frames import Frame, Opcode

CATEGORIES = ["CYBER", "NAVAL", "AIRSPACE", "MARKET_MOVEMENT", "SOCIAL_MEDIA", "OTHER"]
# symbol, a base price, tags: a few asset classes, so prices and tags vary like a real feed's
SYMBOLS = [
    ("BTC-USD", 43_000.0, ["crypto", "spot", "usd-quoted"]),
    ("ETH-USD", 2_300.0, ["crypto", "spot", "usd-quoted"]),
    ("SOL-USD", 98.0, ["crypto", "spot", "usd-quoted"]),
    ("AAPL", 190.0, ["equity", "nasdaq", "large-cap"]),
    ("NVDA", 480.0, ["equity", "nasdaq", "large-cap"]),
    ("EUR-USD", 1.09, ["fx", "spot", "g10-major"]),
    ("XAU-USD", 2_030.0, ["commodity", "spot", "precious"]),
]


def signal_event(seq: int, rng: random.Random, now: int) -> dict[str, Any]:
    """A small Hydra ``signal_new`` event."""
    return {
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


def market_event(seq: int, rng: random.Random, now: int) -> dict[str, Any]:
    """A nested Hydra ``market_update`` event, about 230 bytes encoded."""
    symbol, base, tags = SYMBOLS[seq % len(SYMBOLS)]
    price = round(base * rng.uniform(0.95, 1.05), 4)
    spread = price * 0.0002
    return {
        "stream": "markets",
        "type": "market_update",
        "ts": now + seq,
        "data": {
            "symbol": symbol,
            "price": price,
            "changePct": round(rng.uniform(-5, 5), 4),
            "volume": round(rng.uniform(1e5, 5e7), 2),
            "book": {"bid": round(price - spread, 4), "ask": round(price + spread, 4)},
            "tags": tags,
        },
    }


KINDS = {"signals": ("signals", signal_event), "market": ("markets", market_event)}


def make_events(count: int, kind: str) -> list[dict[str, Any]]:
    """``count`` events of ``kind``, the same ones on every run (seeded)."""
    rng = random.Random(0)
    now = int(time.time() * 1000)
    make = KINDS[kind][1]
    return [make(seq, rng, now) for seq in range(1, count + 1)]


def text_frame(payload: bytes) -> bytes:
    """An unmasked WebSocket text frame, as a server writes it."""
    return Frame(Opcode.TEXT, payload).serialize(mask=False, extensions=[])


def encode_events(count: int, block: int = 1 << 20, kind: str = "signals") -> list[bytes]:
    """Events of ``kind``, as unmasked WebSocket text frames, joined into blocks of about
    ``block`` bytes, each ending where a frame ends."""
    frames = [text_frame(orjson.dumps(event)) for event in make_events(count, kind)]
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


async def write_paced(
    transport: asyncio.WriteTransport, events: list[dict[str, Any]], rate: int
) -> None:
    """Write ``rate`` events a second, each stamped with its send time as it is encoded.

    The loop wakes about every millisecond and writes the events that fell due since;
    ``ts`` is a float of epoch ms with microsecond decimals (Hydra's unit, finer grain).
    """
    started = time.perf_counter()
    sent = 0
    while sent < len(events) and not transport.is_closing():
        due = min(len(events), int((time.perf_counter() - started) * rate) + 1)
        frames = []
        for event in events[sent:due]:
            event["ts"] = round(time.time() * 1000, 3)
            frames.append(text_frame(orjson.dumps(event)))
        transport.write(b"".join(frames))
        sent = due
        await asyncio.sleep(0.0005)


async def serve_blast(
    events: int, ready_file: Path | None, kind: str = "signals", rate: int = 0
) -> None:
    chunk = 1 << 20
    stream = KINDS[kind][0]
    # Paced: events are encoded as they are sent (to stamp them); else pre-encoded.
    blocks = encode_events(events, chunk, kind) if rate <= 0 else []

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
                        "availableStreams": [stream],
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
                        "subscribed": [stream],
                        "rejected": [],
                        "rejectedReason": {},
                        "active": [stream],
                    },
                }
            ).decode()
        )
        transport = ws.transport
        if rate > 0:
            await write_paced(transport, make_events(events, kind), rate)
        for block in blocks:
            # A client may leave before the end (it read what it wanted): writing on would
            # only log "socket.send() raised exception" for every block left.
            if transport.is_closing():
                break
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
    parser.add_argument("--kind", choices=list(KINDS), default="signals")
    parser.add_argument(
        "--rate", type=int, default=0, help="events/s, stamped as sent (0: as fast as possible)"
    )
    args = parser.parse_args()
    asyncio.run(serve_blast(args.events, args.ready_file, args.kind, args.rate))


if __name__ == "__main__":
    main()
