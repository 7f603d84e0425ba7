"""CSV export memory: ``python -m bench.export_memory``.

Seeds a fresh SQLite outbox with ``--submissions`` leads (20,000 by default,
each with a 1 kB message and a declared field), starts ``python -m service``
on it with ``ADMIN_TOKEN`` set, then downloads ``GET /api/admin/submissions.csv``
as a stream, sampling the serving worker's resident memory (``VmRSS``) after
every chunk. A first, small export (one day that has no leads) warms the
route up and gives the baseline.

Target: the worker's memory grows by at most 20 MB during the export, while
the CSV itself is about 25 MB: an export that held every row (as Python
objects, several times their size) would be far past it. Prints the numbers
and a verdict; exits 1 if the target is missed or a row is missing.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

# Import this checkout's service and tests, not an installed copy.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from service.outbox import open_store
from service.submission import Answer, FormInfo, Submission
from tests.process import ServiceProcess

TOKEN = "bench-export-token-0123456789abcdef"
TARGET_MB = 20.0
MESSAGE = ("I would like a quote for a new website. " * 26)[:1000]
SEED_BATCH = 200


def rss_mb(pid: int) -> float:
    """The process's resident set now (VmRSS) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


async def seed(database_url: str, count: int) -> None:
    """Store ``count`` leads, ``SEED_BATCH`` at a time (they share commits)."""
    async with open_store(database_url) as store:
        for start in range(0, count, SEED_BATCH):
            batch = [
                Submission(
                    name=f"Lead {number}",
                    email=f"lead-{number}@example.org",
                    company="Bench Ltd",
                    message=f"{number}: {MESSAGE}",
                    form=FormInfo(id="contact", title="Contact"),
                    answers=(Answer("phone", "Phone", "tel", f"+31 20 {number:07d}"),),
                )
                for number in range(start, min(start + SEED_BATCH, count))
            ]
            await asyncio.gather(*(store.add_submission(lead, []) for lead in batch))


def export(base_url: str, pid: int, params: dict[str, str]) -> tuple[int, int, float]:
    """Stream one export; its rows (lines), bytes and the worker's highest RSS meanwhile."""
    rows = size = 0
    peak = rss_mb(pid)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.stream(
        "GET", f"{base_url}/api/admin/submissions.csv", params=params, headers=headers, timeout=300
    ) as response:
        response.raise_for_status()
        for chunk in response.iter_bytes():
            size += len(chunk)
            rows += chunk.count(b"\n")
            peak = max(peak, rss_mb(pid))
    return rows - 1, size, peak


def main() -> int:
    """Seed, serve, export twice, print the memory growth and the verdict."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=20_000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="export-memory-") as tmp:
        folder = Path(tmp)
        (folder / "var").mkdir()
        started = time.monotonic()
        asyncio.run(seed(f"sqlite:///{folder / 'var' / 'outbox.db'}", args.submissions))
        print(f"seeded {args.submissions} submissions in {time.monotonic() - started:.0f} s")
        service = ServiceProcess(
            folder,
            {
                "APP_ENV": "production",
                "EMAIL_PROVIDERS": "file",
                "EMAIL_FROM": "contact@bench.example",
                "CONTACT_RECIPIENTS": "sales@example.com",
                "ADMIN_TOKEN": TOKEN,
                "DELIVERY_WORKER": "off",
            },
        )
        try:
            service.start()
            (pid,) = service.worker_pids()
            export(service.base_url, pid, {"until": "2000-01-01"})
            baseline = rss_mb(pid)
            started = time.monotonic()
            rows, size, peak = export(service.base_url, pid, {})
            seconds = time.monotonic() - started
        finally:
            service.stop()

    growth = peak - baseline
    print(
        f"exported {rows} rows, {size / 1e6:.1f} MB of CSV in {seconds:.1f} s;"
        f" worker RSS {baseline:.1f} MB before, {peak:.1f} MB at most:"
        f" growth {growth:.1f} MB (target <= {TARGET_MB:.0f} MB)"
    )
    ok = growth <= TARGET_MB and rows >= args.submissions
    print("verdict: flat memory" if ok else "verdict: MISSED (memory grew or rows missing)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
