"""Tracing: spans for requests and send attempts; OTLP and Application Insights export.

In-process tests record spans with the SDK's in-memory exporter. The export
tests run ``python -m service`` against a small local HTTP server standing in
for an OpenTelemetry collector or the Application Insights ingestion endpoint:
spans are flushed when the service stops, so once it has stopped they must
have arrived.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from sanic import Sanic

from service.app import create_app
from service.config import Settings
from service.providers.chain import AttemptEvent
from service.tracing import Tracing, build_tracer_provider, install_tracing
from tests.api.conftest import VALID_FORM, drain_outbox
from tests.process import ROOT, running_service, wait_for

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> Iterator[TracerProvider]:
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield tracer_provider
    tracer_provider.shutdown()


@pytest.fixture
def traced_app(settings: Settings, provider: TracerProvider) -> Iterator[Sanic]:
    application = create_app(settings=settings)
    install_tracing(application, provider)
    application.register_listener(drain_outbox, "before_server_stop")
    yield application
    Sanic._app_registry.pop(application.name, None)


def by_name(spans: tuple[ReadableSpan, ...], name: str) -> list[ReadableSpan]:
    return [span for span in spans if span.name == name]


def sent_attempt(provider: str) -> AttemptEvent:
    """A first attempt that sent a notification, as the chain reports it."""
    return AttemptEvent(
        provider=provider,
        attempt=1,
        outcome="sent",
        error_kind=None,
        seconds=0.1,
        email_kind="notification",
        message_id="<m@example.com>",
    )


async def test_a_request_and_the_outbox_send_attempts_are_spans(
    traced_app: Sanic, exporter: InMemorySpanExporter
) -> None:
    _, response = await traced_app.asgi_client.post(
        "/api/contact",
        json=VALID_FORM,
        headers={"traceparent": TRACEPARENT, "X-Request-ID": "trace-me"},
    )
    assert response.status == 200

    spans = exporter.get_finished_spans()
    (request_span,) = by_name(spans, "POST /api/contact")
    attempts = by_name(spans, "send file")
    assert request_span.kind is SpanKind.SERVER
    assert format(request_span.context.trace_id, "032x") == TRACE_ID  # the caller's trace
    assert request_span.attributes["http.response.status_code"] == 200
    assert request_span.attributes["http.route"] == "/api/contact"
    assert request_span.attributes["request.id"] == "trace-me"
    assert [span.attributes["email.kind"] for span in attempts] == ["notification", "confirmation"]
    for span in attempts:
        # Sent later by the outbox worker, yet in the request's trace: the
        # request's context was stored with each email.
        assert span.kind is SpanKind.CLIENT
        assert span.context.trace_id == request_span.context.trace_id
        assert span.parent is not None
        assert span.parent.span_id == request_span.context.span_id
        assert span.attributes["email.provider"] == "file"
        assert span.attributes["email.attempt"] == 1
        assert span.attributes["email.outcome"] == "sent"
        assert "email.error_kind" not in span.attributes
        assert span.status.status_code is StatusCode.UNSET
        assert request_span.end_time <= span.start_time <= span.end_time


async def test_a_refused_request_is_traced_without_attempts(
    traced_app: Sanic, exporter: InMemorySpanExporter
) -> None:
    _, response = await traced_app.asgi_client.post("/api/contact", json={"name": "x"})
    assert response.status == 422
    spans = exporter.get_finished_spans()
    assert [span.name for span in spans] == ["POST /api/contact"]
    assert spans[0].attributes["http.response.status_code"] == 422


def test_a_failed_attempt_is_an_error_span_timed_as_measured(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    Tracing(provider).attempt(
        AttemptEvent(
            provider="smtp",
            attempt=2,
            outcome="failed_over",
            error_kind="unavailable",
            seconds=1.5,
            email_kind="confirmation",
            message_id="<m@example.com>",
        )
    )
    (span,) = exporter.get_finished_spans()
    assert span.name == "send smtp"
    assert span.attributes["email.attempt"] == 2
    assert span.attributes["email.outcome"] == "failed_over"
    assert span.attributes["email.error_kind"] == "unavailable"
    assert span.status.status_code is StatusCode.ERROR
    assert span.end_time - span.start_time == 1_500_000_000
    assert span.parent is None


def test_an_attempt_joins_the_stored_trace_and_only_that_one(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    tracing = Tracing(provider)
    event = sent_attempt("smtp")
    # Whatever is current in the worker must not adopt the attempt.
    with provider.get_tracer("test").start_as_current_span("unrelated"):
        tracing.attempt(replace(event, trace={"traceparent": TRACEPARENT}))
        tracing.attempt(event)
    joined, alone, _ = exporter.get_finished_spans()
    assert format(joined.context.trace_id, "032x") == TRACE_ID
    assert joined.parent is not None
    assert format(joined.parent.span_id, "016x") == "00f067aa0ba902b7"
    assert alone.parent is None
    assert format(alone.context.trace_id, "032x") != TRACE_ID


def test_without_exporters_no_telemetry_package_is_imported(tmp_path: Path) -> None:
    """Checked in a fresh interpreter: this test process has imported them already."""
    script = (
        "import asyncio, sys, tempfile\n"
        "from sanic import Sanic\n"
        "from service.app import create_app\n"
        "from service.config import load_settings\n"
        "Sanic.test_mode = True\n"
        "app = create_app(settings=load_settings(email_file_dir=tempfile.mkdtemp()))\n"
        "async def main():\n"
        "    _, r = await app.asgi_client.post('/api/contact', json={'name': 'A', "
        "'email': 'a@example.org', 'message': 'hi'})\n"
        "    assert r.status == 200, r.text\n"
        "asyncio.run(main())\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('opentelemetry', 'azure'))\n"
        "print(loaded)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
        cwd=tmp_path,  # the default outbox, ./var/outbox.db, goes there, not into the checkout
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


class Collector:
    """A local HTTP server that answers 200 to every POST and keeps the bodies by path."""

    def __init__(self, answer: bytes = b"") -> None:
        self.bodies: list[tuple[str, bytes]] = []
        received = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                if self.headers.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                received.append((self.path, body))
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Collector:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def post_a_submission(base_url: str, cwd: Path) -> None:
    """Post the form and wait until the outbox worker has sent both emails."""
    response = httpx.post(f"{base_url}/api/contact", json=VALID_FORM)
    assert response.status_code == 200
    wait_for(lambda: len(list((cwd / "var" / "mail").glob("*.eml"))) == 2)


@pytest.mark.slow
def test_spans_are_exported_over_otlp_http(tmp_path: Path) -> None:
    with Collector() as collector:
        with running_service(tmp_path, {"OTEL_EXPORTER_OTLP_ENDPOINT": collector.url}) as url:
            post_a_submission(url, tmp_path)
        exports = [body for path, body in collector.bodies if path == "/v1/traces"]

    names: list[str] = []
    for body in exports:
        request = ExportTraceServiceRequest.FromString(body)
        for resource_spans in request.resource_spans:
            attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            assert attributes["service.name"] == "contact-mailer"
            for scope_spans in resource_spans.scope_spans:
                names.extend(span.name for span in scope_spans.spans)
    # The health checks that waited for the service to start are traced as well.
    assert sorted(name for name in names if name != "GET /api/health") == [
        "POST /api/contact",
        "send file",
        "send file",
    ]


@pytest.mark.slow
def test_spans_are_sent_to_application_insights(tmp_path: Path) -> None:
    answer = json.dumps({"itemsReceived": 0, "itemsAccepted": 0, "errors": []}).encode()
    with Collector(answer) as ingestion:
        env = {
            "APPLICATIONINSIGHTS_CONNECTION_STRING": (
                "InstrumentationKey=00000000-0000-0000-0000-000000000001;"
                f"IngestionEndpoint={ingestion.url}/"
            ),
            # Statsbeat reports to Microsoft's own endpoint, which a test must not reach.
            "APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL": "true",
            # The distro samples at a rate limit by default; the health polls would use it up.
            "OTEL_TRACES_SAMPLER": "always_on",
            "HOME": str(tmp_path),
        }
        with running_service(tmp_path, env) as url:
            post_a_submission(url, tmp_path)
        tracked = [body for path, body in ingestion.bodies if path.startswith("/v2.1/track")]

    envelopes = [item for body in tracked for item in parse_envelopes(body)]
    requests = [
        e
        for e in envelopes
        if e["data"]["baseType"] == "RequestData"
        and e["data"]["baseData"]["name"] != "GET /api/health"
    ]
    dependencies = [e for e in envelopes if e["data"]["baseType"] == "RemoteDependencyData"]
    assert [e["data"]["baseData"]["name"] for e in requests] == ["POST /api/contact"]
    assert sorted(e["data"]["baseData"]["name"] for e in dependencies) == ["send file"] * 2
    assert all(e["tags"]["ai.cloud.role"] == "contact-mailer" for e in requests + dependencies)
    logs = [e for e in envelopes if e["data"]["baseType"] == "MessageData"]
    assert any("submission" in e["data"]["baseData"]["message"] for e in logs)


def parse_envelopes(body: bytes) -> list[dict[str, Any]]:
    """The track endpoint takes a JSON array or newline-delimited JSON envelopes."""
    text = body.decode()
    if text.lstrip().startswith("["):
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_spans_are_exported_over_otlp_grpc(make_settings: Callable[..., Settings]) -> None:
    """OTEL_EXPORTER_OTLP_PROTOCOL=grpc, against a real gRPC trace service on a free port."""
    grpc = pytest.importorskip("grpc")
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceResponse,
    )

    received: list[ExportTraceServiceRequest] = []

    class TraceService(trace_service_pb2_grpc.TraceServiceServicer):
        def Export(self, request: ExportTraceServiceRequest, context: Any) -> Any:
            received.append(request)
            return ExportTraceServiceResponse()

    server = grpc.server(ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(TraceService(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        settings = make_settings(
            otel_exporter_otlp_endpoint=f"http://127.0.0.1:{port}",
            otel_exporter_otlp_protocol="grpc",
        )
        provider = build_tracer_provider(settings)
        Tracing(provider).attempt(sent_attempt("resend"))
        assert provider.force_flush(timeout_millis=10_000)
        provider.shutdown()
    finally:
        server.stop(grace=None)

    spans = [
        span
        for request in received
        for resource_spans in request.resource_spans
        for scope_spans in resource_spans.scope_spans
        for span in scope_spans.spans
    ]
    assert [span.name for span in spans] == ["send resend"]
