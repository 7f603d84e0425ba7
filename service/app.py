"""The application factory.

``create_app`` only wires things together: it reads settings (the environment,
once) and builds objects, but opens nothing. Sanic calls it in every worker
process (and first with the CLI's arguments, which is why its parameters are
keyword-only); connections are opened in ``before_server_start`` and closed in
``after_server_stop``, in that worker.
"""

from __future__ import annotations

import logging

from sanic import Sanic

from service import __version__
from service.api import BLUEPRINTS, DEVELOPMENT_BLUEPRINTS, JsonErrorHandler
from service.api.security import add_security_headers
from service.config import Settings, load_settings
from service.emails import EmailRenderer, check_templates
from service.logs import logging_config
from service.providers import ProviderChain, build_providers
from service.providers.http import make_http_client

__all__ = ["APP_NAME", "create_app"]

APP_NAME = "contact-mailer"

logger = logging.getLogger("service")


def create_app(*, settings: Settings | None = None) -> Sanic:
    """Build the Sanic app for ``settings`` (default: read from the environment)."""
    settings = settings or load_settings()
    app = Sanic(APP_NAME, error_handler=JsonErrorHandler(), log_config=logging_config())
    app.config.update(
        REQUEST_MAX_SIZE=settings.request_max_size,
        FALLBACK_ERROR_FORMAT="json",
        # sanic-ext's code default is empty whatever its docs say: set it explicitly.
        CORS_ORIGINS=",".join(settings.allowed_origins),
        CORS_ALLOW_HEADERS="content-type,idempotency-key,x-request-id",
        CORS_METHODS="GET,POST,OPTIONS",
        OAS_URL_PREFIX="/docs",
        OAS_UI_DEFAULT="swagger",
        OAS_IGNORE_HEAD=True,
        OAS_IGNORE_OPTIONS=True,
    )
    app.ext.openapi.describe(
        "Contact mailer",
        version=__version__,
        description="Accepts contact-form submissions and emails them to the site owner.",
    )
    app.ctx.settings = settings
    app.ctx.renderer = EmailRenderer.from_settings(settings)
    for blueprint in BLUEPRINTS:
        app.blueprint(blueprint)
    if not settings.production:
        for blueprint in DEVELOPMENT_BLUEPRINTS:
            app.blueprint(blueprint)
    app.register_middleware(add_security_headers, "response")
    app.register_listener(_open_resources, "before_server_start")
    app.register_listener(_close_resources, "after_server_stop")
    return app


async def _open_resources(app: Sanic) -> None:
    """Open the shared HTTP client and every provider in this worker."""
    settings: Settings = app.ctx.settings
    check_templates(settings, app.ctx.renderer)
    app.ctx.http_client = make_http_client(settings)
    providers = build_providers(settings, http_client=app.ctx.http_client)
    app.ctx.chain = ProviderChain.from_settings(settings, providers)
    await app.ctx.chain.open()
    logger.info("provider chain: %s", " -> ".join(app.ctx.chain.names))
    if "file" in app.ctx.chain.names:
        logger.info("file provider writes emails to %s", settings.email_file_dir.resolve())


async def _close_resources(app: Sanic) -> None:
    """Close what :func:`_open_resources` opened."""
    await app.ctx.chain.close()
    await app.ctx.http_client.aclose()
