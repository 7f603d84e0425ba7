"""The outbox under load: ``python -m bench.outbox_load``.

Starts, on this machine and in one run:

* a STARTTLS + AUTH SMTP server (``tests/smtp_server.py``) in a child process,
  on a throwaway trustme CA that the service trusts through ``SSL_CERT_FILE``;
* the ceiling: a bare Sanic route, served like the service (same workers, same
  access log), that only validates the same JSON with the same
  :class:`~service.api.schemas.ContactForm` and answers;
* the service, ``python -m service`` with ``EMAIL_PROVIDERS=smtp`` and
  ``APP_ENV=production`` in a fresh working directory (so a fresh
  ``sqlite:///var/outbox.db``).

``wrk`` loads each with the same settings (a POST of a contact form with a
unique address per request) and the script prints requests/s and p50/p99
latency, the ratios service/ceiling, the delivery lag (from the last answer
until the SMTP server has every stored email) and the peak RSS (VmHWM) of each
Sanic worker process. A second service run against an SMTP server that takes
300 ms per message shows the visitor does not wait for the mail server.

Targets, all checked in the same run: accepted requests/s >= 40 % of the
ceiling's; p99 <= 5x the ceiling's; delivery lag < 10 s; peak RSS <= 150 MB
per worker; with the slow SMTP server, p50 and p99 within 1.5x of the fast
run's. Exits 1 when a target is missed or an email is lost.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Self

# Import this checkout's service and tests, not an installed copy.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import trustme
from pydantic import ValidationError
from sanic import HTTPResponse, Request, Sanic
from sanic import json as json_response
from sanic.worker.loader import AppLoader

from bench._support import SmtpChild, cpu_seconds, peak_rss_mb
from service.api.schemas import ContactForm, ContactResponse
from tests.process import ServiceProcess
from tests.smtp_server import PASSWORD, USERNAME

THROUGHPUT_SHARE = 0.40
P99_FACTOR = 5.0
MAX_LAG = 10.0
MAX_RSS_MB = 150.0
SLOW_SMTP_FACTOR = 1.5
SLOW_SMTP_DELAY = 0.3
DRAIN_LIMIT = 120.0

# One POST per request, each with its own visitor address; done() reports in JSON.
WRK_SCRIPT = r"""
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

local run = "run"
local n = 0
function init(args)
  run = args[1] or run
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

function request()
  n = n + 1
  local body = string.format(
    '{"name":"Load Test","email":"load-%s-%d-%d@example.org",' ..
    '"company":"Bench Ltd","message":"Hello, this is request %d of the load test."}',
    run, tid, n, n)
  return wrk.format(nil, "/api/contact", nil, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


def ceiling_app() -> Sanic:
    """The ceiling: validate the form exactly as the service does, store nothing, answer."""
    app = Sanic("ceiling")

    @app.get("/api/health")
    async def health(request: Request) -> HTTPResponse:
        return json_response({"status": "ok"})

    @app.post("/api/contact")
    async def contact(request: Request) -> HTTPResponse:
        try:
            ContactForm.model_validate(request.json)
        except ValidationError:
            return json_response({"success": False}, status=422)
        return json_response(ContactResponse(id=str(uuid.uuid4())).model_dump())

    return app


def serve_ceiling(host: str, port: int, workers: int) -> None:
    """Serve :func:`ceiling_app` the way ``service.cli.serve`` serves the service."""
    loader = AppLoader(factory=ceiling_app)
    app = loader.load()
    app.prepare(host=host, port=port, workers=workers, debug=False, access_log=True, motd=False)
    Sanic.serve(primary=app, app_loader=loader)


@dataclass(frozen=True)
class Load:
    """What ``wrk`` measured."""

    requests: int
    seconds: float
    refused: int
    socket_errors: int
    p50_ms: float
    p99_ms: float
    wrk_cpu: float = 0.0

    @property
    def accepted(self) -> int:
        """Answers with a 2xx status."""
        return self.requests - self.refused

    @property
    def accepted_per_second(self) -> float:
        """Answers with a 2xx status per second."""
        return self.accepted / self.seconds

    @classmethod
    def parse(cls, output: str) -> Self:
        """Read the ``RESULT`` line the Lua script's ``done()`` writes."""
        line = next(line for line in output.splitlines() if line.startswith("RESULT "))
        raw: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
        return cls(
            requests=raw["requests"],
            seconds=raw["duration_us"] / 1e6,
            refused=raw["status"],
            socket_errors=raw["connect"] + raw["read"] + raw["write"] + raw["timeout"],
            p50_ms=raw["p50_us"] / 1000,
            p99_ms=raw["p99_us"] / 1000,
        )


@dataclass(frozen=True)
class ServiceRun:
    """One loaded service: its load, delivery, memory and CPU time.

    ``service_cpu`` and ``smtp_cpu`` are the seconds of CPU the service's
    processes and the SMTP server used from the start of the load until every
    email was delivered (fast server), or until the last answer (slow server,
    which delivers almost nothing meanwhile: the request path alone).
    ``emails`` is how many emails the server received in that time.
    """

    load: Load
    stored: int
    delivered_by_end: int
    lag: float | None
    rss_mb: list[float]
    service_cpu: float
    smtp_cpu: float
    emails: int


def children_cpu_seconds() -> float:
    """CPU time of this script's finished children (``wrk``)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def wrk(base_url: str, script: Path, args: argparse.Namespace, run: str) -> Load:
    """Load ``base_url`` for ``args.duration`` seconds with the shared client settings."""
    before = children_cpu_seconds()
    output = subprocess.run(
        [
            args.wrk,
            f"-t{args.threads}",
            f"-c{args.connections}",
            f"-d{args.duration}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            base_url,
            "--",
            run,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return replace(Load.parse(output), wrk_cpu=children_cpu_seconds() - before)


def warm_up(base_url: str, count: int = 20) -> None:
    """A few sequential submissions, so imports and template caches are not measured."""
    with httpx.Client(base_url=base_url, timeout=10) as client:
        for number in range(count):
            body = {"name": "Warm Up", "email": f"warm{number}@example.org", "message": "Hi"}
            client.post("/api/contact", json=body).raise_for_status()


def stored_emails(base_url: str) -> int:
    """Every email the service's outbox holds, in any state."""
    states = httpx.get(f"{base_url}/api/health", timeout=30).json()["outbox"]["states"]
    return sum(states.values())


def service_env(smtp_port: int, ca_file: Path, args: argparse.Namespace) -> dict[str, str]:
    """The service's whole environment: the smtp provider only, otherwise defaults."""
    pool = {"SMTP_POOL_SIZE": str(args.smtp_pool_size)} if args.smtp_pool_size else {}
    return pool | {
        "EMAIL_PROVIDERS": "smtp",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_port),
        "EMAIL_ADDRESS": USERNAME,
        "EMAIL_PASSWORD": PASSWORD,
        "CONTACT_RECIPIENTS": "sales@example.com",
        "SSL_CERT_FILE": str(ca_file),
        "WORKERS": str(args.workers),
        # The load comes from one client address; the per-IP limit would answer 429.
        "CONTACT_RATE_LIMIT": "off",
        # As deployed: templates compiled once (development re-scans the template
        # folders before every render to reload edits), JSON logs, no preview studio.
        "APP_ENV": "production",
    }


def run_service(
    work: Path, ca_file: Path, smtp: SmtpChild, script: Path, args: argparse.Namespace, run: str
) -> ServiceRun:
    """Start a fresh service, load it, measure delivery lag (fast SMTP only), memory and CPU."""
    cwd = work / run
    cwd.mkdir()
    service = ServiceProcess(cwd, service_env(smtp.port, ca_file, args))
    try:
        service.start()
        warm_up(service.base_url)
        # The measured run starts with an empty outbox.
        deadline = time.monotonic() + DRAIN_LIMIT
        while smtp.count() < stored_emails(service.base_url) and time.monotonic() < deadline:
            time.sleep(0.05)
        pids = [service.pid, *service.worker_pids()]
        before = (cpu_seconds(pids), cpu_seconds([smtp.pid]), smtp.count())
        load = wrk(service.base_url, script, args, run)
        answered = time.monotonic()
        stored = stored_emails(service.base_url)
        delivered = smtp.count() - before[2]
        lag: float | None = None
        if run == "service":
            deadline = answered + DRAIN_LIMIT
            while time.monotonic() < deadline:
                if smtp.count() >= stored:
                    lag = time.monotonic() - answered
                    break
                time.sleep(0.02)
        service_cpu = cpu_seconds(pids) - before[0]
        smtp_cpu = cpu_seconds([smtp.pid]) - before[1]
        emails = smtp.count() - before[2]
        rss = [peak_rss_mb(pid) for pid in service.worker_pids()]
    finally:
        service.stop()
    return ServiceRun(load, stored, delivered, lag, rss, service_cpu, smtp_cpu, emails)


def run_ceiling(
    work: Path, script: Path, args: argparse.Namespace
) -> tuple[Load, list[float], float]:
    """Start the bare Sanic route, load it, read its workers' memory and CPU time."""
    cwd = work / "ceiling"
    cwd.mkdir()
    ceiling = ServiceProcess(
        cwd,
        {"WORKERS": str(args.workers)},
        arguments=[str(Path(__file__).resolve()), "--serve-ceiling"],
    )
    try:
        ceiling.start()
        warm_up(ceiling.base_url)
        pids = [ceiling.pid, *ceiling.worker_pids()]
        before = cpu_seconds(pids)
        load = wrk(ceiling.base_url, script, args, "ceiling")
        cpu = cpu_seconds(pids) - before
        rss = [peak_rss_mb(pid) for pid in ceiling.worker_pids()]
    finally:
        ceiling.stop()
    return load, rss, cpu


def show_load(label: str, load: Load) -> None:
    """One line of load results."""
    print(
        f"  {label:<26} {load.accepted_per_second:8.0f} req/s  p50 {load.p50_ms:7.1f} ms"
        f"  p99 {load.p99_ms:7.1f} ms  ({load.requests} answers, {load.refused} non-2xx,"
        f" {load.socket_errors} socket errors)"
    )


def show_budget(
    args: argparse.Namespace, ceiling: Load, ceiling_cpu: float, fast: ServiceRun, slow: ServiceRun
) -> None:
    """CPU per submission by process, and what the throughput and lag targets need together.

    Both targets hold only if the work of 40 % of the ceiling's requests (the
    service's, the SMTP server's and the load generator's) fits in this
    machine's cores over the burst and the allowed lag, and the request path
    alone fits in the service's workers during the burst.
    """
    service_ms = 1000 * fast.service_cpu / max(fast.load.accepted, 1)
    request_ms = 1000 * slow.service_cpu / max(slow.load.accepted, 1)
    smtp_ms = 1000 * fast.smtp_cpu / max(fast.emails, 1)
    wrk_ms = 1000 * fast.load.wrk_cpu / max(fast.load.requests, 1)
    ceiling_ms = 1000 * ceiling_cpu / max(ceiling.requests, 1)
    print(
        f"  CPU per submission: service {service_ms:.2f} ms (answering alone, slow SMTP run:"
        f" {request_ms:.2f} ms), SMTP server {smtp_ms:.2f} ms per email, wrk {wrk_ms:.2f} ms;"
        f" ceiling {ceiling_ms:.2f} ms per request"
    )
    wanted = THROUGHPUT_SHARE * ceiling.accepted_per_second * args.duration
    window = args.duration + MAX_LAG
    cores = os.cpu_count() or 1
    needed = wanted * (service_ms + 2 * smtp_ms + wrk_ms) / 1000
    answering = wanted * request_ms / 1000
    worker_seconds = args.workers * args.duration
    print(
        f"  throughput and lag targets together: {wanted:.0f} submissions in {args.duration} s,"
        f" their emails delivered within {window:g} s: {needed:.0f} CPU-seconds at these costs,"
        f" this machine has {cores} x {window:g} = {cores * window:.0f}; answering them alone"
        f" takes {answering:.0f} s of the {args.workers} worker(s)' {worker_seconds} s"
    )


def check(label: str, ok: bool, detail: str) -> bool:
    """Print one target's verdict."""
    print(f"  [{'ok' if ok else 'MISSED'}] {label}: {detail}")
    return ok


def main() -> int:
    """Run the ceiling and the service, print the numbers, check the targets."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds of load (default 10)")
    parser.add_argument("--connections", type=int, default=50, help="wrk -c (default 50)")
    parser.add_argument("--threads", type=int, default=2, help="wrk -t (default 2)")
    parser.add_argument("--workers", type=int, default=1, help="WORKERS of both (default 1)")
    parser.add_argument(
        "--smtp-pool-size", type=int, default=0, help="SMTP_POOL_SIZE (default: the service's)"
    )
    parser.add_argument("--wrk", default=shutil.which("wrk") or "/usr/bin/wrk")
    parser.add_argument("--serve-ceiling", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_ceiling:
        serve_ceiling(os.environ["HOST"], int(os.environ["PORT"]), int(os.environ["WORKERS"]))
        return 0

    ca = trustme.CA()
    certificate = ca.issue_cert("127.0.0.1")
    with tempfile.TemporaryDirectory(prefix="outbox-load-") as tmp:
        work = Path(tmp)
        ca_file = work / "ca.pem"
        ca.cert_pem.write_to_path(str(ca_file))
        script = work / "post.lua"
        script.write_text(WRK_SCRIPT)

        ceiling, ceiling_rss, ceiling_cpu = run_ceiling(work, script, args)
        with SmtpChild(certificate, delay=0.0) as smtp:
            fast = run_service(work, ca_file, smtp, script, args, "service")
        with SmtpChild(certificate, delay=SLOW_SMTP_DELAY) as smtp:
            slow = run_service(work, ca_file, smtp, script, args, "service-slow-smtp")

    print(
        f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s, WORKERS={args.workers},"
        f" POST /api/contact (JSON), STARTTLS + AUTH SMTP server on 127.0.0.1"
    )
    show_load("ceiling (validate only)", ceiling)
    show_load("service", fast.load)
    show_load(f"service, SMTP {SLOW_SMTP_DELAY * 1000:.0f} ms/msg", slow.load)
    share = fast.load.accepted_per_second / ceiling.accepted_per_second
    p99_factor = fast.load.p99_ms / ceiling.p99_ms
    print(f"  service / ceiling: {share:.0%} of the requests/s, {p99_factor:.1f}x the p99")
    lag = "never (emails missing)" if fast.lag is None else f"{fast.lag:.1f} s"
    print(
        f"  delivery: {fast.stored} emails stored, {fast.delivered_by_end} delivered by the last"
        f" answer, all delivered {lag} after it"
    )
    print(
        f"  slow SMTP: {slow.stored} emails stored, {slow.delivered_by_end} delivered by the last"
        " answer (the rest stays queued)"
    )
    for label, rss in (
        ("ceiling", ceiling_rss),
        ("service", fast.rss_mb),
        ("service, slow SMTP", slow.rss_mb),
    ):
        print(f"  peak RSS per worker, {label}: " + ", ".join(f"{mb:.0f} MB" for mb in rss))

    show_budget(args, ceiling, ceiling_cpu, fast, slow)

    print("targets:")
    peak = max(fast.rss_mb + slow.rss_mb)
    verdicts = [
        check("throughput", share >= THROUGHPUT_SHARE, f"{share:.0%} >= {THROUGHPUT_SHARE:.0%}"),
        check("p99", p99_factor <= P99_FACTOR, f"{p99_factor:.1f}x <= {P99_FACTOR:g}x"),
        check(
            "delivery lag", fast.lag is not None and fast.lag < MAX_LAG, f"{lag} < {MAX_LAG:g} s"
        ),
        check("peak RSS", peak <= MAX_RSS_MB, f"{peak:.0f} MB <= {MAX_RSS_MB:g} MB per worker"),
        check(
            "latency with slow SMTP",
            slow.load.p50_ms <= SLOW_SMTP_FACTOR * fast.load.p50_ms
            and slow.load.p99_ms <= SLOW_SMTP_FACTOR * fast.load.p99_ms,
            f"p50 {slow.load.p50_ms:.1f} vs {fast.load.p50_ms:.1f} ms,"
            f" p99 {slow.load.p99_ms:.1f} vs {fast.load.p99_ms:.1f} ms"
            f" (<= {SLOW_SMTP_FACTOR:g}x)",
        ),
        check(
            "no errors",
            not (fast.load.refused or fast.load.socket_errors or ceiling.refused),
            "every request answered 2xx",
        ),
    ]
    return 0 if all(verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
