"""The admin area: what the site's operator uses to read and look after the leads.

Registered only when ``ADMIN_TOKEN`` is set (otherwise none of its paths
exist). One job per module:

* :mod:`.schemas`: the JSON response models, and how records become them.
* :mod:`.queries`: the query-string filters, shared by the JSON API and the pages.
* :mod:`.openapi_docs`: the bearer scheme and the pieces every operation's OpenAPI entry repeats.
* :mod:`.bearer`: the bearer-token guard of the JSON routes.
* :mod:`.api`: ``/api/admin/outbox`` (counts, emails, retry).
* :mod:`.submissions`: ``/api/admin/submissions`` (list, CSV export, spam marks).
* :mod:`.actions`: what the operator does to a lead (spam marks), for the API and the pages.
* :mod:`.export`: the CSV writer, shared with the inbox page's export.
* :mod:`.people`: ``DELETE /api/admin/people`` (erasure, via :mod:`service.erasure`).
* :mod:`.suppressions`: ``/api/admin/suppressions``.
* :mod:`.session`: the owner's signed browser session and its CSRF tokens.
* :mod:`.views`: what every page shares: the session guard, rendering, strict headers.
* :mod:`.access`: ``/admin`` sign-in and sign-out.
* :mod:`.pages`: the inbox, one lead, the outbox and the suppression list.
* :mod:`.page_actions`: what the pages' forms do, and the pages' CSV export.

``BLUEPRINTS`` are the JSON API's blueprints and ``PAGES`` the pages', to register together;
``describe_security`` declares their bearer scheme in the OpenAPI document.
"""

from __future__ import annotations

from service.api.admin import access, api, page_actions, pages, people, submissions, suppressions
from service.api.admin.openapi_docs import SECURITY_SCHEME, describe_security

__all__ = ["BLUEPRINTS", "PAGES", "SECURITY_SCHEME", "describe_security"]

BLUEPRINTS = (api.bp, submissions.bp, people.bp, suppressions.bp)

PAGES = (access.bp, pages.bp, page_actions.bp)
"""The site owner's pages under ``/admin``: a signed-in browser session, no bearer token."""
