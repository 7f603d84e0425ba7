"""Logs: text and JSON lines, the request id on every line a request causes, nothing secret."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sanic import Sanic

from service.app import create_app
from service.config import Settings
from service.logs import (
    JsonFormatter,
    RequestIdFilter,
    TextFormatter,
    access_fields_var,
    logging_config,
    mask_addresses,
    mask_email,
    request_id_var,
)
from tests.api.conftest import VALID_FORM
from tests.process import running_service, wait_for

# Appears only in a submission's message: a log line containing it leaked the body.
BODY_MARKER = "body-marker-91c4e2"


@pytest.mark.parametrize(
    ("address", "masked"),
    [
        ("alice@example.org", "a***@example.org"),
        ("Zoë.Ångström@example.co.uk", "Z***@example.co.uk"),
        ("@example.org", "***@example.org"),
        ('"a@b"@example.org', '"***@example.org'),
        ("not-an-address", "***"),
    ],
)
def test_mask_email_keeps_the_first_letter_and_the_domain(address: str, masked: str) -> None:
    assert mask_email(address) == masked


def make_record(
    name: str = "service.test", msg: str = "hello %s", **extra: Any
) -> logging.LogRecord:
    args = ("world",) if "%s" in msg else ()
    record = logging.LogRecord(name, logging.WARNING, __file__, 1, msg, args, None)
    record.__dict__.update(extra)
    RequestIdFilter().filter(record)
    return record


def test_json_lines_carry_the_fields_and_the_extras() -> None:
    token = request_id_var.set("req-42")
    try:
        record = make_record(provider="smtp", attempt=2, error_kind=None, when=Path("/x"))
    finally:
        request_id_var.reset(token)
    entry = json.loads(JsonFormatter().format(record))
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "service.test"
    assert entry["message"] == "hello world"
    assert entry["request_id"] == "req-42"
    assert (entry["provider"], entry["attempt"], entry["error_kind"]) == ("smtp", 2, None)
    assert entry["when"] == "/x"  # not JSON by nature: as a string
    assert entry["time"].endswith("+00:00")
    assert "args" not in entry
    assert "msg" not in entry


def test_json_holds_what_the_fast_encoder_cannot() -> None:
    record = make_record(huge=2**70, city="Zoë", counts={1: "one"})

    line = JsonFormatter().format(record)

    entry = json.loads(line)
    assert (entry["huge"], entry["counts"]) == (2**70, {"1": "one"})
    assert "Zoë" in line  # UTF-8, not \u escapes


def test_json_keeps_the_exception_in_one_line() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.LogRecord("service", logging.ERROR, __file__, 1, "failed", (), None)
        record.exc_info = sys.exc_info()
    line = JsonFormatter().format(record)
    assert "\n" not in line
    assert "RuntimeError: boom" in json.loads(line)["exception"]


def test_access_records_are_spelled_out_in_both_formats() -> None:
    fields = {
        "request": "POST http://127.0.0.1/api/contact",
        "status": 200,
        "byte": 96,
        "host": "127.0.0.1:5000",
        "duration": " 9.5ms",
    }
    entry = json.loads(JsonFormatter().format(make_record("sanic.access", "", **fields)))
    assert entry["message"] == "POST http://127.0.0.1/api/contact 200 96B 9.5 ms"
    assert (entry["status"], entry["bytes"], entry["duration_ms"]) == (200, 96, 9.5)
    assert "byte" not in entry
    assert "duration" not in entry
    text = TextFormatter().format(make_record("sanic.access", "", **fields))
    assert text.endswith("sanic.access [-] POST http://127.0.0.1/api/contact 200 96B 9.5 ms")


def test_the_access_line_carries_the_requests_access_fields_and_no_other_line_does() -> None:
    fields = {"request": "POST http://127.0.0.1/api/contact", "status": 200, "byte": 96}
    token = access_fields_var.set({"submission_id": "0194-abc", "form": "contact"})
    try:
        access = make_record("sanic.access", "", **fields)
        other = make_record("service.api.forms", "stored")
        assert RequestIdFilter().filter(access)
        assert RequestIdFilter().filter(other)
    finally:
        access_fields_var.reset(token)
    entry = json.loads(JsonFormatter().format(access))
    assert (entry["submission_id"], entry["form"]) == ("0194-abc", "contact")
    assert "submission_id" not in json.loads(JsonFormatter().format(other))
    assert TextFormatter().format(access).endswith("200 96B submission 0194-abc")


def test_the_access_line_never_shows_a_webhook_token() -> None:
    """ACS's Event Grid posts to ``/api/webhooks/acs?token=...``: the token is a secret."""
    fields = {"request": "POST http://host/api/webhooks/acs?token=s3cret-value&x=1", "status": 200}
    for formatter in (JsonFormatter(), TextFormatter()):
        line = formatter.format(make_record("sanic.access", "", **fields))
        assert "s3cret-value" not in line
        assert "/api/webhooks/acs?token=[redacted]&x=1 200" in line


def test_logging_config_refuses_an_unknown_format() -> None:
    with pytest.raises(ValueError, match="unknown log format 'xml'"):
        logging_config("INFO", "xml")


@pytest.fixture
def json_app(make_settings: Callable[..., Settings]) -> Iterator[Callable[[], Sanic]]:
    """Builds an app logging JSON at DEBUG to stdout.

    Called in the test itself: pytest's ``capsys`` replaces ``sys.stdout`` only
    for the test's call, and the log handlers take the stream current when built.
    """
    built: list[Sanic] = []

    def build() -> Sanic:
        settings = make_settings(log_format="json", log_level="DEBUG", resend_api_key="re_s3cr3t")
        built.append(create_app(settings=settings))
        return built[-1]

    yield build
    for application in built:
        Sanic._app_registry.pop(application.name, None)


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


async def test_every_line_of_a_request_carries_its_id(
    json_app: Callable[[], Sanic], capsys: pytest.CaptureFixture[str]
) -> None:
    form = {**VALID_FORM, "message": f"Hello {BODY_MARKER}"}
    _, response = await json_app().asgi_client.post(
        "/api/contact", json=form, headers={"X-Request-ID": "edge-7f3a.1"}
    )
    assert response.status == 200
    assert response.headers["x-request-id"] == "edge-7f3a.1"

    out = capsys.readouterr().out
    lines = [e for e in json_lines(out) if e["logger"].startswith("service.")]
    during = [e for e in lines if e["logger"].startswith("service.api")]
    # The request's own line carries its id; delivery happens later, in the outbox worker.
    assert [e["logger"] for e in during] == ["service.api.forms"]
    assert during[0]["request_id"] == "edge-7f3a.1"
    assert during[0]["visitor"] == "z***@example.org"
    assert BODY_MARKER not in out
    assert "zoe@example.org" not in out


@pytest.mark.parametrize("offered", ["has space", "x" * 65, "new\\nline", "<script>", ""])
async def test_an_unsafe_request_id_is_replaced(
    json_app: Callable[[], Sanic], offered: str
) -> None:
    _, response = await json_app().asgi_client.get("/api/health", headers={"X-Request-ID": offered})
    returned = response.headers["x-request-id"]
    assert returned != offered
    assert re.fullmatch(r"[0-9a-f]{32}", returned)


async def test_each_request_without_an_id_gets_a_new_one(json_app: Callable[[], Sanic]) -> None:
    client = json_app().asgi_client
    _, first = await client.get("/api/health")
    _, second = await client.get("/api/nowhere")
    assert second.status == 404
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
    assert len(second.headers["x-request-id"]) == 32


@pytest.mark.slow
def test_a_real_server_logs_json_with_no_secret_and_no_body(tmp_path: Path) -> None:
    """``python -m service`` at DEBUG: every line JSON, the access line tied to its request."""
    secret_file = tmp_path / "postmark_token"
    secret_file.write_text("pm-s3cr3t-from-file\n")
    env = {
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "debug",
        "RESEND_API_KEY": "re_s3cr3t_from_env",
        "POSTMARK_SERVER_TOKEN_FILE": str(secret_file),
        "METRICS_TOKEN": "metrics-s3cr3t-0123456789",
    }
    with running_service(tmp_path, env) as base_url:
        response = httpx.post(
            f"{base_url}/api/contact",
            json={**VALID_FORM, "message": f"Please call me {BODY_MARKER}"},
            headers={"X-Request-ID": "lb-1234"},
        )
        assert response.status_code == 200
        assert response.headers["x-request-id"] == "lb-1234"
        wait_for(lambda: len(list((tmp_path / "var" / "mail").glob("*.eml"))) == 2)

    log = (tmp_path / "service.log").read_text()
    entries = json_lines(log)  # fails on any line that is not JSON
    mine = [e for e in entries if e["request_id"] == "lb-1234"]
    assert {e["logger"] for e in mine} == {"service.api.forms", "sanic.access"}
    # Delivery runs later, in the outbox worker: one line per email names the provider and
    # attempt (the chain's own line for an accepted attempt is DEBUG).
    sends = [e for e in entries if e["logger"] == "service.outbox" and e.get("outcome") == "sent"]
    assert [(e["provider"], e["attempt"], e["provider_attempt"]) for e in sends] == [
        ("file", 1, 1)
    ] * 2
    chain = [e for e in entries if e["logger"] == "service.providers.chain"]
    assert [(e["level"], e["outcome"]) for e in chain] == [("DEBUG", "sent")] * 2
    access = next(e for e in mine if e["logger"] == "sanic.access")
    assert access["status"] == 200
    assert access["request"].endswith("/api/contact")
    # The access line names the submission (the forms' own line is DEBUG).
    assert access["submission_id"] == response.json()["id"]
    assert (access["form"], access["visitor"]) == ("contact", "z***@example.org")
    forms_line = next(e for e in mine if e["logger"] == "service.api.forms")
    assert forms_line["level"] == "DEBUG"
    for leak in (BODY_MARKER, "s3cr3t", "zoe@example.org", "Zoë"):
        assert leak not in log, leak


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("550 5.1.1 <bob@example.net>: user unknown", "550 5.1.1 <b***@example.net>: user unknown"),
        ("refused a.b+tag@mail.example.org, c@x.io", "refused a***@mail.example.org, c***@x.io"),
        ("no address here: 421 try later", "no address here: 421 try later"),
    ],
)
def test_mask_addresses_masks_every_address_in_a_provider_answer(text: str, expected: str) -> None:
    assert mask_addresses(text) == expected
