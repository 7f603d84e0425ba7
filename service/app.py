"""The application factory.

``create_app`` only wires things together: it reads settings (the environment,
once) and builds objects, but opens nothing. Sanic calls it in every worker
process (and first with the CLI's arguments, which is why its parameters are
keyword-only); connections are opened in ``before_server_start`` and closed in
``after_server_stop``, in that worker.
"""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack
from functools import partial

from sanic import Sanic

from service import __version__
from service.abuse import Defences
from service.api import admin as admin_api
from service.api import health, hosted, pages, preview
from service.api import metrics as metrics_api
from service.api.context import return_request_id, start_request
from service.api.errors import JsonErrorHandler
from service.api.forms import forms_blueprint
from service.api.health import OutboxWrites
from service.api.security import add_security_headers
from service.config import Settings, load_settings
from service.emails import EmailRenderer, check_templates
from service.forms import Forms, load_forms
from service.logs import logging_config
from service.metrics import Metrics
from service.outbox import Delivery, DeliveryWorker, EmailState, open_store
from service.providers import ProviderChain, build_providers
from service.providers.http import make_http_client
from service.startup import STARTUP_ERRORS, stop_server

__all__ = ["APP_NAME", "create_app"]

APP_NAME = "contact-mailer"

logger = logging.getLogger("service")

# The form endpoints depend on the app's forms: forms_blueprint(forms) builds them.
BLUEPRINTS = (health.bp, pages.bp, hosted.bp)

# Tools for template authors; they do not exist in production.
DEVELOPMENT_BLUEPRINTS = (preview.bp,)


def create_app(*, settings: Settings | None = None, forms: Forms | None = None) -> Sanic:
    """Build the Sanic app for ``settings`` (default: read from the environment).

    ``forms`` default to those ``FORMS_FILE`` declares, read like the settings.
    """
    settings = settings or load_settings()
    forms = forms if forms is not None else load_forms(settings)
    app = Sanic(
        APP_NAME,
        error_handler=JsonErrorHandler(),
        log_config=logging_config(settings.log_level, settings.log_format),
    )
    app.config.update(
        REQUEST_MAX_SIZE=settings.request_max_size,
        # Read by service.deadline's protocol when `python -m service` serves the app.
        REQUEST_DEADLINE=settings.request_deadline_seconds,
        FALLBACK_ERROR_FORMAT="json",
        # sanic-ext's code default is empty whatever its docs say: set it explicitly.
        CORS_ORIGINS=",".join(settings.allowed_origins),
        CORS_ALLOW_HEADERS="content-type,idempotency-key,x-request-id",
        CORS_METHODS="GET,POST,OPTIONS",
        OAS_URL_PREFIX="/docs",
        OAS_UI_DEFAULT="swagger",
        OAS_IGNORE_HEAD=True,
        OAS_IGNORE_OPTIONS=True,
        # Sanic reads a client address from forwarding headers only when these say
        # a trusted proxy sets them; by default the socket's peer is the client.
        REAL_IP_HEADER=settings.real_ip_header,
        PROXIES_COUNT=settings.proxies_count,
        FORWARDED_SECRET=(
            settings.forwarded_secret.get_secret_value() if settings.forwarded_secret else None
        ),
    )
    app.ext.openapi.describe(
        "Contact mailer",
        version=__version__,
        description="Accepts contact-form submissions and emails them to the site owner.",
    )
    app.ctx.settings = settings
    app.ctx.forms = forms
    app.ctx.renderer = EmailRenderer.from_settings(settings)
    app.ctx.metrics = Metrics(forms=list(forms))
    app.ctx.metrics.add_refresher(partial(_observe_outbox, app))
    recipients = {address for form in forms.values() for address in form.recipients}
    app.ctx.defences = Defences.from_settings(settings, recipients=recipients)
    app.ctx.outbox_writes = OutboxWrites()
    app.blueprint(forms_blueprint(forms))
    for blueprint in BLUEPRINTS:
        app.blueprint(blueprint)
    if not settings.production:
        for blueprint in DEVELOPMENT_BLUEPRINTS:
            app.blueprint(blueprint)
    if settings.metrics_enabled:
        app.blueprint(metrics_api.bp)
    if settings.admin_token is not None:
        # Without a token the routes do not exist: every /api/admin path is a 404.
        app.blueprint(admin_api.bp)
        admin_api.describe_security(app)
    app.register_middleware(start_request, "request")
    app.register_middleware(add_security_headers, "response")
    app.register_middleware(return_request_id, "response")
    if settings.tracing_enabled:
        # Imported here: without an exporter configured, OpenTelemetry is never loaded.
        from service.tracing import install_tracing

        install_tracing(app)
    app.register_listener(_open_resources, "before_server_start")
    app.register_listener(_stop_delivery, "before_server_stop")
    app.register_listener(_close_resources, "after_server_stop")
    return app


async def _open_resources(app: Sanic) -> None:
    """Open what this worker serves with; a problem here stops the server in one line."""
    app.ctx.opened = AsyncExitStack()
    try:
        await _open(app, app.ctx.opened)
    except STARTUP_ERRORS as err:
        await app.ctx.opened.aclose()
        stop_server(app, err)


async def _open(app: Sanic, opened: AsyncExitStack) -> None:
    """Open the shared HTTP client, every provider, the defences, the store and the worker."""
    settings: Settings = app.ctx.settings
    check_templates(settings, app.ctx.renderer, [form.sample() for form in app.ctx.forms.values()])
    app.ctx.http_client = make_http_client(settings)
    opened.push_async_callback(app.ctx.http_client.aclose)
    providers = build_providers(settings, http_client=app.ctx.http_client)
    observers = [app.ctx.metrics]
    if (tracing := getattr(app.ctx, "tracing", None)) is not None:
        observers.append(tracing)
    app.ctx.chain = ProviderChain.from_settings(settings, providers, observers=observers)
    opened.push_async_callback(app.ctx.chain.close)
    await app.ctx.chain.open()
    opened.push_async_callback(app.ctx.defences.close)
    await app.ctx.defences.open()
    logger.info("provider chain: %s", " -> ".join(app.ctx.chain.names))
    if "file" in app.ctx.chain.names:
        logger.info(
            "file provider writes emails to %s", settings.provider_settings.file.directory.resolve()
        )
    app.ctx.store = open_store(settings.database_url)
    await app.ctx.store.open()
    opened.push_async_callback(app.ctx.store.close)
    app.ctx.worker = DeliveryWorker.from_settings(
        app.ctx.store, app.ctx.chain, settings, on_delivery=partial(_count_dead, app.ctx.metrics)
    )
    await app.ctx.worker.start()


def _count_dead(metrics: Metrics, delivery: Delivery) -> None:
    """Worker hook: the chain counts each attempt; only the outbox knows an email is dead."""
    if delivery.state is EmailState.DEAD and delivery.recorded:
        metrics.email_dead(delivery.provider)


async def _observe_outbox(app: Sanic) -> None:
    """Before each scrape: the outbox gauges, read from the store this worker has open."""
    stats = await app.ctx.store.stats()
    depth = {str(state): count for state, count in stats.counts.items()}
    app.ctx.metrics.observe_outbox(depth, stats.oldest_unsent_age)


async def _stop_delivery(app: Sanic) -> None:
    """Stop claiming; give in-flight sends the graceful-shutdown time; leave the rest queued."""
    # Half the grace period, so the sends end before Sanic stops waiting for this worker.
    await app.ctx.worker.stop(grace=app.config.GRACEFUL_SHUTDOWN_TIMEOUT / 2)


async def _close_resources(app: Sanic) -> None:
    """Close what :func:`_open_resources` opened, in reverse order."""
    await app.ctx.opened.aclose()
