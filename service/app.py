"""The application factories: the web service, and the delivery worker on its own.

``create_app`` builds what ``python -m service`` serves: the HTTP API, and in
the same process the outbox's delivery worker unless ``DELIVERY_WORKER=off``.
``create_worker_app`` builds what ``python -m service worker`` serves: the
delivery worker with nothing on HTTP but ``/api/health`` (and ``/metrics``,
where the delivery counters live), so a deployment can scale answering and
delivery apart.

Both only wire things together: they read settings (the environment, once)
and build objects, but open nothing. Connections are opened in
``before_server_start`` and closed in ``after_server_stop``, in the process
that serves (parameters are keyword-only: Sanic may call a factory itself).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from functools import partial

from sanic import Sanic

from service import __version__
from service.abuse import Defences
from service.api import health, hosted, pages
from service.api import metrics as metrics_api
from service.api.context import return_request_id, start_request
from service.api.errors import JsonErrorHandler
from service.api.forms import forms_blueprint
from service.api.health import OutboxWrites
from service.api.late_routes import build_signals_once
from service.api.security import add_security_headers
from service.api.webhooks import add_webhook_routes
from service.config import Settings, load_settings
from service.emails import EmailRenderer, check_templates
from service.emails.compose import COMPOSERS, sample_submission
from service.forms import Forms, load_forms
from service.logs import logging_config, skip_unprinted_record_fields
from service.metrics import Metrics
from service.outbox import Delivery, DeliveryWorker, EmailState, open_store
from service.outbox.rendering import ClaimRenderer
from service.providers import ProviderChain, build_providers
from service.providers.http import make_http_client
from service.startup import STARTUP_ERRORS, stop_server
from service.webhooks.receive import WebhookReceiver, configured_webhooks

__all__ = ["APP_NAME", "WORKER_APP_NAME", "check_forms", "create_app", "create_worker_app"]

APP_NAME = "contact-mailer"
WORKER_APP_NAME = "contact-mailer-worker"

logger = logging.getLogger("service")

# The form endpoints depend on the app's forms: forms_blueprint(forms) builds them.
# The preview studio (development only) and the admin API (with ADMIN_TOKEN) are
# added, and imported, only where they are served.
BLUEPRINTS = (health.bp, pages.bp, hosted.bp)

Opener = Callable[[Sanic, AsyncExitStack], Awaitable[None]]


def create_app(
    *,
    settings: Settings | None = None,
    forms: Forms | None = None,
    renderer: EmailRenderer | None = None,
) -> Sanic:
    """Build the web app for ``settings`` (default: read from the environment).

    ``forms`` default to those ``FORMS_FILE`` declares, read like the settings;
    ``renderer`` to a new one for the settings (the CLI hands over the one it
    checked, templates compiled, so that its forked workers need not compile again).
    """
    settings = settings or load_settings()
    forms = forms if forms is not None else load_forms(settings)
    app = _base_app(APP_NAME, settings, forms)
    # Built here (parsing keys is no I/O) so that an unusable secret stops startup.
    webhooks = configured_webhooks(settings)
    app.config.update(
        # Sanic's limit is per server: webhook routes may take more than a form (checked per route).
        REQUEST_MAX_SIZE=max(
            settings.request_max_size, settings.webhook_max_bytes if webhooks else 0
        ),
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
    app.ctx.renderer = renderer or EmailRenderer.from_settings(settings)
    recipients = {address for form in forms.values() for address in form.recipients}
    app.ctx.defences = Defences.from_settings(settings, recipients=recipients)
    app.blueprint(forms_blueprint(forms))
    for blueprint in BLUEPRINTS:
        app.blueprint(blueprint)
    if not settings.production:
        from service.api import preview

        app.blueprint(preview.bp)
    if settings.admin_token is not None:
        # Without a token the routes do not exist: every /api/admin path is a 404.
        from service.api import admin as admin_api

        for blueprint in (*admin_api.BLUEPRINTS, *admin_api.PAGES):
            app.blueprint(blueprint)
        admin_api.describe_security(app)
    # A route per provider whose webhook secret is set; other providers' paths are 404.
    app.ctx.provider_webhooks = webhooks
    add_webhook_routes(app, list(webhooks))
    _add_tracing(app)
    app.register_listener(partial(_open_resources, opener=_open_web), "before_server_start")
    app.register_listener(_stop_delivery, "before_server_stop")
    app.register_listener(_close_resources, "after_server_stop")
    return app


def create_worker_app(
    *, settings: Settings | None = None, renderer: EmailRenderer | None = None
) -> Sanic:
    """Build the delivery-only app: the worker, ``/api/health`` and ``/metrics``.

    The worker renders the emails the API stored as recipes, so it has a
    renderer too (``renderer``: as for :func:`create_app`).
    """
    settings = settings or load_settings()
    app = _base_app(WORKER_APP_NAME, settings, load_forms(settings))
    app.ctx.renderer = renderer or EmailRenderer.from_settings(settings)
    # No CORS, no OpenAPI documents: this process answers probes, not browsers.
    app.config.update(OAS=False, CORS=False)
    app.blueprint(health.bp)
    _add_tracing(app)
    app.register_listener(partial(_open_resources, opener=_open_worker), "before_server_start")
    app.register_listener(_stop_delivery, "before_server_stop")
    app.register_listener(_close_resources, "after_server_stop")
    return app


def _base_app(name: str, settings: Settings, forms: Forms) -> Sanic:
    """What both apps share: logging, JSON errors, request ids, security headers, metrics."""
    app = Sanic(
        name,
        error_handler=JsonErrorHandler(),
        log_config=logging_config(settings.log_level, settings.log_format),
    )
    build_signals_once(app)
    if settings.log_format == "json":
        skip_unprinted_record_fields()
    app.config.update(
        # Read by service.deadline's protocol when `python -m service` serves the app.
        REQUEST_DEADLINE=settings.request_deadline_seconds,
        FALLBACK_ERROR_FORMAT="json",
    )
    app.ctx.settings = settings
    app.ctx.forms = forms
    app.ctx.metrics = Metrics(forms=list(forms))
    app.ctx.metrics.add_refresher(partial(_observe_outbox, app))
    app.ctx.outbox_writes = OutboxWrites()
    if settings.metrics_enabled:
        app.blueprint(metrics_api.bp)
    app.register_middleware(start_request, "request")
    app.register_middleware(add_security_headers, "response")
    app.register_middleware(return_request_id, "response")
    return app


def check_forms(settings: Settings, renderer: EmailRenderer, forms: Forms) -> None:
    """Render every email with each form's sample; a broken template stops startup.

    Done once per renderer, settings and forms in production, where templates
    are compiled once: ``python -m service`` checks before forking its workers,
    which inherit the renderer and need not check again.
    """
    if not renderer.auto_reload and renderer.checked == (settings, forms):
        return
    check_templates(settings, renderer, [form.sample() for form in forms.values()])
    renderer.checked = (settings, forms)


def _add_tracing(app: Sanic) -> None:
    if app.ctx.settings.tracing_enabled:
        # Imported here: without an exporter configured, OpenTelemetry is never loaded.
        from service.tracing import install_tracing

        install_tracing(app)


async def _open_resources(app: Sanic, *, opener: Opener) -> None:
    """Open what this process serves with; a problem here stops the server in one line."""
    app.ctx.opened = AsyncExitStack()
    try:
        await opener(app, app.ctx.opened)
    except STARTUP_ERRORS as err:
        await app.ctx.opened.aclose()
        stop_server(app, err)


async def _open_web(app: Sanic, opened: AsyncExitStack) -> None:
    """Open the outbox and the defences; deliver unless told not to."""
    await _open_delivery(app, opened, deliver=app.ctx.settings.delivery_worker)
    app.ctx.webhooks = WebhookReceiver(
        app.ctx.provider_webhooks, app.ctx.store, app.ctx.metrics, app.ctx.http_client
    )
    opened.push_async_callback(app.ctx.defences.close)
    await app.ctx.defences.open()


async def _open_worker(app: Sanic, opened: AsyncExitStack) -> None:
    """Check the templates, open the outbox and the provider chain, and deliver."""
    await _open_delivery(app, opened, deliver=True)


async def _open_delivery(app: Sanic, opened: AsyncExitStack, *, deliver: bool) -> None:
    """Check the templates; open the shared HTTP client, every provider and the store;
    start the worker if ``deliver``.

    The worker object exists either way, so the API can always ``notify()`` it;
    with ``DELIVERY_WORKER=off`` nobody listens, and a ``python -m service worker``
    process finds the stored emails at its next poll. The worker renders the
    emails stored as recipes with the app's renderer.
    """
    settings: Settings = app.ctx.settings
    renderer: EmailRenderer = app.ctx.renderer
    check_forms(settings, renderer, app.ctx.forms)
    sample = sample_submission()
    # Rendered bodies are compressed against these: what they share costs nothing.
    samples = {kind: compose(sample, settings, renderer) for kind, compose in COMPOSERS.items()}
    app.ctx.http_client = make_http_client(settings)
    opened.push_async_callback(app.ctx.http_client.aclose)
    providers = build_providers(settings, http_client=app.ctx.http_client)
    observers = [app.ctx.metrics]
    if (tracing := getattr(app.ctx, "tracing", None)) is not None:
        observers.append(tracing)
    app.ctx.chain = ProviderChain.from_settings(settings, providers, observers=observers)
    opened.push_async_callback(app.ctx.chain.close)
    await app.ctx.chain.open()
    logger.info("provider chain: %s", " -> ".join(app.ctx.chain.names))
    if "file" in app.ctx.chain.names:
        logger.info(
            "file provider writes emails to %s", settings.provider_settings.file.directory.resolve()
        )
    app.ctx.store = open_store(settings.database_url, samples=samples)
    await app.ctx.store.open()
    opened.push_async_callback(app.ctx.store.close)
    app.ctx.worker = DeliveryWorker.from_settings(
        app.ctx.store,
        app.ctx.chain,
        settings,
        on_delivery=partial(_count_outcome, app.ctx.metrics),
        render=ClaimRenderer(app.ctx.store, settings, renderer),
    )
    if deliver:
        await app.ctx.worker.start()
    else:
        logger.info("delivery worker off (DELIVERY_WORKER=off): emails wait for a worker process")


def _count_outcome(metrics: Metrics, delivery: Delivery) -> None:
    """Worker hook: the chain counts each attempt; only the outbox knows an email is dead,
    or was not sent at all because its address was suppressed."""
    if not delivery.recorded:
        return
    if delivery.state is EmailState.DEAD:
        metrics.email_dead(delivery.provider)
    elif delivery.suppressed:
        metrics.email_suppressed()


async def _observe_outbox(app: Sanic) -> None:
    """Before each scrape: the outbox gauges, read from the store this process has open."""
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
