"""OpenTelemetry spans for every request and every send attempt.

Imported only when ``OTEL_EXPORTER_OTLP_ENDPOINT`` or
``APPLICATIONINSIGHTS_CONNECTION_STRING`` is set (the ``otel`` or ``azure``
extra); otherwise no OpenTelemetry code is loaded at all.

- A ``SERVER`` span per request, named after its route (``POST /api/contact``),
  continuing the caller's trace when it sends a W3C ``traceparent`` header.
- A ``CLIENT`` span per send attempt, with the provider, the attempt number,
  the outcome and the error kind. The outbox worker sends later, in another
  task or process, so the request's trace context is stored with each email
  (:attr:`~service.message.OutgoingEmail.trace`) and every attempt, retries
  hours later included, is a child of the span of the request that stored it.
  The chain reports an attempt when it has ended
  (:class:`~service.providers.chain.AttemptObserver`), so the span is recorded
  with the attempt's measured start and end.

Spans go over OTLP (``OTEL_EXPORTER_OTLP_PROTOCOL``: ``http/protobuf`` by
default, or ``grpc``) and/or to Azure Application Insights through
azure-monitor-opentelemetry, which then also exports the service's logs.
The provider is built in each worker when its server starts and flushed when
it stops.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from opentelemetry import _logs, metrics, propagate, trace
from opentelemetry import context as otel_context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

from service import __version__

if TYPE_CHECKING:
    from sanic import HTTPResponse, Request, Sanic

    from service.config import Settings
    from service.providers.chain import AttemptEvent

__all__ = ["SERVICE_NAME", "Tracing", "build_tracer_provider", "install_tracing"]

SERVICE_NAME = "contact-mailer"
_SCOPE = "service"


def _otlp_processor(settings: Settings) -> SpanProcessor:
    endpoint = str(settings.otel_exporter_otlp_endpoint)
    if settings.otel_exporter_otlp_protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
            OTLPSpanExporter as GrpcExporter,
        )

        return BatchSpanProcessor(GrpcExporter(endpoint=endpoint))
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    # Given in code, the HTTP endpoint is the full URL; the variable's convention is the base.
    return BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces"))


def build_tracer_provider(settings: Settings) -> TracerProvider:
    """The process's tracer provider, exporting where ``settings`` say; also made global."""
    resource = Resource.create({"service.name": SERVICE_NAME, "service.version": __version__})
    processors = [_otlp_processor(settings)] if settings.otel_exporter_otlp_endpoint else []
    connection = settings.applicationinsights_connection_string
    if connection is not None:
        from azure.monitor.opentelemetry import configure_azure_monitor

        configure_azure_monitor(
            connection_string=connection.get_secret_value(),
            resource=resource,
            span_processors=processors,
        )
        provider = trace.get_tracer_provider()
        assert isinstance(provider, TracerProvider)
        return provider
    provider = TracerProvider(resource=resource)
    for processor in processors:
        provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    return provider


class Tracing:
    """Request middleware and chain observer that record spans with ``provider``.

    Without a ``provider``, one is built from the app's settings when the server
    starts (and shut down, flushing its spans, when it stops).
    """

    def __init__(self, provider: TracerProvider | None = None) -> None:
        self._provider = provider
        self._owned = provider is None
        self._tracer: trace.Tracer | None = None if provider is None else self._make(provider)

    @staticmethod
    def _make(provider: TracerProvider) -> trace.Tracer:
        return provider.get_tracer(_SCOPE, __version__)

    def install(self, app: Sanic) -> None:
        """Register the middleware and listeners on ``app``; the chain finds it on ``app.ctx``."""
        app.ctx.tracing = self
        app.register_listener(self._start, "before_server_start")
        app.register_listener(self._stop, "after_server_stop")
        app.register_middleware(self._begin_request, "request")
        app.register_middleware(self._end_request, "response")

    async def _start(self, app: Sanic) -> None:
        if self._provider is None:
            self._provider = build_tracer_provider(app.ctx.settings)
            self._tracer = self._make(self._provider)

    async def _stop(self, app: Sanic) -> None:
        if self._owned and self._provider is not None:
            self._provider.shutdown()
            # Application Insights also batches logs and metrics. A Sanic worker is
            # forked and ends with os._exit, skipping the atexit hooks that would
            # flush them: flush them here, with the spans.
            for provider in (_logs.get_logger_provider(), metrics.get_meter_provider()):
                shutdown = getattr(provider, "shutdown", None)
                if shutdown is not None:
                    shutdown()

    async def _begin_request(self, request: Request) -> None:
        if self._tracer is None:
            return
        parent = propagate.extract(request.headers)
        route = request.uri_template or request.path
        span = self._tracer.start_span(
            f"{request.method} {route}",
            context=parent,
            kind=SpanKind.SERVER,
            attributes={
                "http.request.method": request.method,
                "http.route": route,
                "url.path": request.path,
                "request.id": getattr(request.ctx, "request_id", ""),
            },
        )
        current = trace.set_span_in_context(span, parent)
        request.ctx.span = span
        request.ctx.span_token = otel_context.attach(current)
        # Stored with the emails, so that their send attempts join this trace.
        carrier: dict[str, str] = {}
        propagate.inject(carrier, context=current)
        request.ctx.trace_context = carrier

    async def _end_request(self, request: Request, response: HTTPResponse) -> None:
        span: Any = getattr(request.ctx, "span", None)
        if span is None:
            return
        span.set_attribute("http.response.status_code", response.status)
        if response.status >= 500:
            span.set_status(Status(StatusCode.ERROR))
        span.end()
        otel_context.detach(request.ctx.span_token)
        request.ctx.span = None

    def attempt(self, event: AttemptEvent) -> None:
        """The chain's observer: one span per attempt, timed as the chain measured it."""
        if self._tracer is None:
            return
        end = time.time_ns()
        attributes: dict[str, str | int] = {
            "email.provider": event.provider,
            "email.attempt": event.attempt,
            "email.outcome": event.outcome,
            "email.kind": event.email_kind,
            "email.message_id": event.message_id,
        }
        if event.error_kind is not None:
            attributes["email.error_kind"] = event.error_kind
        # An email stored without a trace context starts its own trace rather
        # than joining whatever happens to be current in the worker.
        parent = propagate.extract(event.trace) if event.trace else otel_context.Context()
        span = self._tracer.start_span(
            f"send {event.provider}",
            context=parent,
            kind=SpanKind.CLIENT,
            start_time=end - int(event.seconds * 1_000_000_000),
            attributes=attributes,
        )
        if event.outcome != "sent":
            span.set_status(Status(StatusCode.ERROR, event.error_kind))
        span.end(end_time=end)


def install_tracing(app: Sanic, provider: TracerProvider | None = None) -> Tracing:
    """Trace ``app``'s requests and send attempts (with ``provider``, else one from settings)."""
    tracing = Tracing(provider)
    tracing.install(app)
    return tracing
