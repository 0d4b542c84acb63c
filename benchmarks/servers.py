"""Feed servers for the benchmarks, each in its own process so it gets its own core."""

from __future__ import annotations

import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


def start_server(
    command: Callable[[Path], list[str]], what: str
) -> tuple[subprocess.Popen[bytes], int]:
    """Run ``command(ready_file)`` and wait until the server writes its port there."""
    ready = Path(tempfile.mkdtemp()) / "port"
    proc = subprocess.Popen(command(ready), stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not ready.exists() or not ready.read_text().strip():
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise SystemExit(f"the {what} did not start")
        time.sleep(0.05)
    return proc, int(ready.read_text().strip())
