"""The honeypot: filled, the answer is a success's and nothing is sent."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sanic_testing.testing import SanicASGITestClient

from service.abuse.honeypot import honeypot_tripped
from tests.abuse.forms import VALID_FORM, mail_kinds, post_json

MakeClient = Callable[..., SanicASGITestClient]


@pytest.mark.parametrize(
    ("fields", "tripped"),
    [
        ({}, False),
        ({"_gotcha": None}, False),
        ({"_gotcha": ""}, False),
        ({"_gotcha": "  "}, False),
        ({"_gotcha": False}, False),
        ({"_gotcha": "http://spam.example"}, True),
        ({"_gotcha": 0}, True),
        ({"_gotcha": ["x"]}, True),
        ({"_gotcha": {}}, True),
        ({"other": "filled"}, False),
    ],
)
def test_which_values_trip_it(fields: dict[str, Any], tripped: bool) -> None:
    assert honeypot_tripped(fields, "_gotcha") is tripped


async def test_a_filled_honeypot_answers_like_a_success_and_sends_nothing(
    make_client: MakeClient, mail_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client()
    real = await post_json(client, VALID_FORM)
    with caplog.at_level(logging.INFO):
        bot = await post_json(client, {**VALID_FORM, "_gotcha": "Buy now at spam.example"})
    assert bot.status == real.status == 200
    assert bot.headers["content-type"] == real.headers["content-type"]
    assert set(bot.json) == set(real.json)
    assert bot.json["success"] is True
    assert bot.json["message"] == real.json["message"]
    assert len(bot.json["id"]) == len(real.json["id"])
    assert bot.json["id"] != real.json["id"]
    assert len(mail_kinds(mail_dir)) == 2  # the real submission's two emails only
    assert [r.getMessage() for r in caplog.records if r.name == "service.abuse"] == [
        "abuse: honeypot"
    ]
    assert "spam.example" not in caplog.text
    assert "zoe@example.org" not in caplog.text


async def test_a_browser_bot_is_redirected_like_a_visitor(
    make_client: MakeClient, mail_dir: Path
) -> None:
    client = make_client()
    _, response = await client.post(
        "/api/contact",
        data={**VALID_FORM, "_gotcha": "x"},
        headers={"accept": "text/html"},
        follow_redirects=False,
    )
    assert response.status == 303
    assert response.headers["location"] == "/thanks"
    assert not mail_kinds(mail_dir)


async def test_the_field_name_is_configurable(make_client: MakeClient, mail_dir: Path) -> None:
    client = make_client(honeypot_field="website")
    assert (await post_json(client, {**VALID_FORM, "_gotcha": "x"})).status == 200
    assert len(mail_kinds(mail_dir)) == 2
    assert (await post_json(client, {**VALID_FORM, "website": "x"})).status == 200
    assert len(mail_kinds(mail_dir)) == 2


async def test_a_filled_honeypot_does_not_use_up_the_visitors_confirmation(
    make_client: MakeClient, mail_dir: Path
) -> None:
    client = make_client()
    await post_json(client, {**VALID_FORM, "_gotcha": "x"})
    await post_json(client, VALID_FORM)
    assert ("confirmation", "zoe@example.org") in mail_kinds(mail_dir)
