"""A claiming process for the concurrency tests (run as a script, not collected).

Usage: ``python claimer.py DATABASE_URL WORKER_ID READY_FILE GO_FILE``. Opens the
store (applying migrations, perhaps at the same moment as its sibling), says it
is ready, waits for the go file, then claims and marks sent until nothing is
due, and prints the ids it claimed as JSON.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

from service.outbox import open_store

__all__ = ["main"]


async def main(url: str, worker_id: str, ready: Path, go: Path) -> list[str]:
    claimed: list[str] = []
    async with open_store(url) as store:
        await asyncio.to_thread(ready.touch)
        deadline = time.monotonic() + 30
        while not await asyncio.to_thread(go.exists):
            if time.monotonic() > deadline:
                raise SystemExit("no go signal")
            await asyncio.sleep(0.005)
        while claims := await store.claim_due(worker_id, 5, 300):
            await asyncio.sleep(0.002)  # a send takes a while
            for claim in claims:
                claimed.append(claim.id)
                if not await store.mark_sent(claim, provider="p", provider_message_id=worker_id):
                    raise SystemExit(f"lost the lease on {claim.id}")
    return claimed


if __name__ == "__main__":
    url, worker_id, ready, go = sys.argv[1:5]
    print(json.dumps(asyncio.run(main(url, worker_id, Path(ready), Path(go)))))
