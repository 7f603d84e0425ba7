"""Answer-path CPU: ``python -m bench.answer_cpu``.

The CPU time the service spends per accepted submission, against the CPU time
of the ceiling (``bench.outbox_load``'s bare Sanic route: the same JSON
validated by the same ``ContactForm``, the same access log, nothing stored) per
request. ``wrk`` posts contact forms to each for ``--duration`` seconds, one
after the other; the CPU time of every process of each (``/proc``, all
threads) is read before and after. The service runs as deployed
(``APP_ENV=production``, JSON logs, a fresh SQLite outbox) with
``DELIVERY_WORKER=off``, so what it spends is answering: validating, composing
both emails, storing them (compressed, one fsynced transaction shared with
other submissions), the metrics and the log lines. ``--mode slow-smtp``
delivers instead through an SMTP server that takes 300 ms per message, which
sends almost nothing during the load (how ``bench.outbox_load`` measured it
before ``DELIVERY_WORKER`` existed).

CPU time per unit rather than requests per second: on a machine shared with
other work the wall clock says more about the neighbours than about us.

Targets: service CPU per accepted submission <= 2.5x the ceiling's CPU per
request; peak RSS of each Sanic worker <= 100 MB (after the load).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

# Import this checkout's service and tests, not an installed copy.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import trustme

from bench._support import SmtpChild, cpu_seconds, peak_rss_mb
from bench.outbox_load import WRK_SCRIPT, Load, service_env, warm_up, wrk
from tests.process import ServiceProcess

CPU_FACTOR = 2.5
MAX_RSS_MB = 100.0
SLOW_SMTP_DELAY = 0.3


Runs = dict[str, list[tuple[Load, float]]]


def rounds(
    processes: dict[str, ServiceProcess], script: Path, args: argparse.Namespace
) -> tuple[Runs, dict[str, list[float]]]:
    """Start every process, then load each in turn, ``args.rounds`` times; stop them.

    Returns each turn (what ``wrk`` measured and the CPU seconds every process
    of that server used meanwhile, the others idle) and each worker's peak RSS.
    """
    runs: Runs = {name: [] for name in processes}
    rss: dict[str, list[float]] = {}
    try:
        for process in processes.values():
            process.start()
            warm_up(process.base_url)
        for number in range(args.rounds):
            for name, process in processes.items():
                pids = [process.pid, *process.worker_pids()]
                before = cpu_seconds(pids)
                load = wrk(process.base_url, script, args, f"{name}-{number}")
                runs[name].append((load, cpu_seconds(pids) - before))
        for name, process in processes.items():
            rss[name] = [peak_rss_mb(pid) for pid in process.worker_pids()]
    finally:
        for process in processes.values():
            process.stop()
    return runs, rss


def per_request_ms(load: Load, cpu: float, *, accepted: bool) -> float:
    """Milliseconds of CPU per (accepted) request."""
    return 1000 * cpu / max(load.accepted if accepted else load.requests, 1)


def main() -> int:
    """Load the ceiling and the service, print CPU per request and the ratio, check targets."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=4, help="seconds per turn (default 4)")
    parser.add_argument("--connections", type=int, default=20, help="wrk -c (default 20)")
    parser.add_argument("--threads", type=int, default=1, help="wrk -t (default 1)")
    parser.add_argument("--workers", type=int, default=1, help="WORKERS of both (default 1)")
    parser.add_argument("--mode", choices=("off", "slow-smtp"), default="off")
    parser.add_argument("--rounds", type=int, default=3, help="turns each (default 3)")
    parser.add_argument("--wrk", default=shutil.which("wrk") or "/usr/bin/wrk")
    args = parser.parse_args()
    args.smtp_pool_size = 0

    ca = trustme.CA()
    certificate = ca.issue_cert("127.0.0.1")
    delay = SLOW_SMTP_DELAY if args.mode == "slow-smtp" else 0.0
    with (
        tempfile.TemporaryDirectory(prefix="answer-cpu-") as tmp,
        SmtpChild(certificate, delay=delay) as smtp,
    ):
        work = Path(tmp)
        script = work / "post.lua"
        script.write_text(WRK_SCRIPT)
        ca_file = work / "ca.pem"
        ca.cert_pem.write_to_path(str(ca_file))
        for name in ("ceiling", "service"):
            (work / name).mkdir()
        outbox_load = Path(__file__).resolve().parent / "outbox_load.py"
        ceiling = ServiceProcess(
            work / "ceiling",
            {"WORKERS": str(args.workers)},
            arguments=[str(outbox_load), "--serve-ceiling"],
        )
        env = service_env(smtp.port, ca_file, args)
        if args.mode == "off":
            env["DELIVERY_WORKER"] = "off"
        service = ServiceProcess(work / "service", env)
        runs, rss = rounds({"ceiling": ceiling, "service": service}, script, args)

    print(
        f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s, WORKERS={args.workers},"
        f" POST /api/contact (JSON), {args.rounds} rounds, ceiling and service in turn; service"
        + (" with DELIVERY_WORKER=off" if args.mode == "off" else " with a 300 ms/message SMTP")
    )
    best: dict[str, float] = {}
    for name, accepted in (("ceiling", False), ("service", True)):
        figures = [per_request_ms(load, cpu, accepted=accepted) for load, cpu in runs[name]]
        best[name] = min(figures)
        refused = sum(load.refused for load, _ in runs[name])
        print(
            f"  {name:<8} ms CPU per request: "
            + ", ".join(f"{ms:.3f}" for ms in figures)
            + f" (best {best[name]:.3f}); {refused} non-2xx; peak RSS "
            + ", ".join(f"{mb:.0f} MB" for mb in rss[name])
        )
    service_ms, ceiling_ms = best["service"], best["ceiling"]
    factor = service_ms / ceiling_ms
    service_refused = sum(load.refused for load, _ in runs["service"])
    print(f"  load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    peak = max(rss["service"])
    ok_cpu = factor <= CPU_FACTOR and not service_refused
    ok_rss = peak <= MAX_RSS_MB
    print("targets:")
    print(
        f"  [{'ok' if ok_cpu else 'MISSED'}] answer-path CPU: {service_ms:.3f} ms per submission"
        f" = {factor:.1f}x the ceiling's {ceiling_ms:.3f} ms (<= {CPU_FACTOR}x; best turns)"
    )
    print(
        f"  [{'ok' if ok_rss else 'MISSED'}] peak RSS: {peak:.0f} MB"
        f" <= {MAX_RSS_MB:g} MB per worker"
    )
    return 0 if ok_cpu and ok_rss else 1


if __name__ == "__main__":
    sys.exit(main())
