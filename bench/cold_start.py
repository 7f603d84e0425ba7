"""Cold start: ``python -m bench.cold_start``.

Container platforms that scale to zero start the service on a visitor's request,
so the time from ``exec`` of ``python -m service`` to its first ``200`` on
``/api/health`` is time that visitor waits. Each run starts the service with
``WORKERS=1``, ``APP_ENV=production`` and the ``file`` provider in a fresh
temporary folder (a fresh SQLite outbox, created and migrated at startup), polls
``/api/health`` every 5 ms and stops it. Runs alternate with nothing else of
ours running; the median is checked (the machine is shared, so the best run is
printed too).

Target: median <= 1.0 s. ``--importtime`` also prints the slowest imports of
``service.app`` (``python -X importtime``), cumulative, for finding what to defer.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 1.0
POLL_SECONDS = 0.005
TIMEOUT = 30.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def healthy(port: int) -> bool:
    """True when ``GET /api/health`` answers 200."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        connection.request("GET", "/api/health")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def environment(folder: Path, port: int) -> dict[str, str]:
    """Production settings with the file provider; nothing from the caller's shell."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(ROOT),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WORKERS": "1",
        "APP_ENV": "production",
        "EMAIL_PROVIDERS": "file",
        "EMAIL_FROM": "contact@bench.example",
        "DATABASE_URL": f"sqlite:///{folder / 'var' / 'outbox.db'}",
    }


def tree_cpu(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and every process below it, so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rpartition(")")[2].split()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])
        todo += [int(child) for child in children]
    return total / ticks


def one_start(python: str, arguments: list[str]) -> tuple[float, float]:
    """Seconds from exec to the first 200 on /api/health, and the CPU seconds spent by then."""
    with tempfile.TemporaryDirectory(prefix="cold-start-") as tmp:
        folder = Path(tmp)
        port = free_port()
        log = (folder / "service.log").open("wb")
        started = time.perf_counter()
        process = subprocess.Popen(
            [python, *arguments],
            cwd=folder,
            env=environment(folder, port),
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        try:
            while not healthy(port):
                if process.poll() is not None:
                    raise RuntimeError((folder / "service.log").read_text(errors="replace"))
                if time.perf_counter() - started > TIMEOUT:
                    raise RuntimeError("no 200 on /api/health within 30 s")
                time.sleep(POLL_SECONDS)
            return time.perf_counter() - started, tree_cpu(process.pid)
        finally:
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=15)
            # Sanic's manager and worker processes must not outlive the run.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            log.close()


def slowest_imports(count: int) -> list[tuple[float, str]]:
    """The ``count`` modules with the largest cumulative import time under ``service.app``."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import service.app"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    rows = []
    for line in result.stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((int(parts[1]) / 1e6, parts[2].rstrip()))
    return sorted(rows, reverse=True)[:count]


def main() -> int:
    """Start the service ``--runs`` times, print each time to first 200, check the median."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="starts to measure (default 7)")
    parser.add_argument("--importtime", action="store_true", help="print the slowest imports")
    parser.add_argument(
        "--python",
        default=sys.executable,
        help="the interpreter to start (e.g. a virtualenv with `pip install .` only, as deployed:"
        " the test extras add packages some libraries import when present)",
    )
    args = parser.parse_args()

    arguments = ["-m", "service"]
    one_start(args.python, arguments)  # Page cache and bytecode warm, as on a second start.
    runs = [one_start(args.python, arguments) for _ in range(args.runs)]
    times = [wall for wall, _ in runs]
    median = statistics.median(times)
    cpu = statistics.median(cpu for _, cpu in runs)
    print(
        f"{args.python} -m service, WORKERS=1, APP_ENV=production, file provider,"
        " fresh SQLite outbox"
    )
    print("  exec to first 200 on /api/health: " + ", ".join(f"{t:.2f}" for t in times) + " s")
    print(f"  median {median:.2f} s, best {min(times):.2f} s")
    print(
        f"  CPU used by then, all processes (median): {cpu:.2f} s"
        f" (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores: other work"
        " stretches the wall time, not this)"
    )
    if args.importtime:
        print("  slowest imports of service.app (cumulative):")
        for seconds, name in slowest_imports(25):
            print(f"    {seconds * 1000:7.1f} ms {name}")
    ok = median <= TARGET_SECONDS
    print("targets:")
    print(f"  [{'ok' if ok else 'MISSED'}] cold start: median {median:.2f} s <= {TARGET_SECONDS} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
