"""Submissions per client: 429 with Retry-After past CONTACT_RATE_LIMIT, in memory or in Redis."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sanic_testing.testing import SanicASGITestClient

from service.abuse.ratelimit import RateLimited, RateLimits, address_key
from service.config import load_settings, parse_rate_limit
from tests.abuse.forms import VALID_FORM, mail_kinds, post_json
from tests.process import free_port

MakeClient = Callable[..., SanicASGITestClient]


async def test_the_post_past_the_limit_gets_429_json_with_retry_after(
    make_client: MakeClient, mail_dir: Path
) -> None:
    client = make_client(contact_rate_limit="3/minute")
    for _ in range(3):
        assert (await post_json(client, VALID_FORM)).status == 200
    refused = await post_json(client, VALID_FORM)
    assert refused.status == 429
    assert refused.json == {
        "success": False,
        "message": "Too many messages from your address. Please try again later.",
        "errors": [],
    }
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert [kind for kind, _ in mail_kinds(mail_dir)].count("notification") == 3


async def test_retry_after_counts_down_to_the_longer_window(make_client: MakeClient) -> None:
    client = make_client(contact_rate_limit="10/minute;2/hour")
    for _ in range(2):
        assert (await post_json(client, VALID_FORM)).status == 200
    refused = await post_json(client, VALID_FORM)
    assert refused.status == 429
    assert 60 < int(refused.headers["retry-after"]) <= 3600


async def test_invalid_and_malformed_posts_count_too(make_client: MakeClient) -> None:
    client = make_client(contact_rate_limit="2/minute")
    assert (await post_json(client, {"name": "x"})).status == 422
    _, malformed = await client.post(
        "/api/contact", content=b"{", headers={"content-type": "application/json"}
    )
    assert malformed.status == 400
    assert (await post_json(client, VALID_FORM)).status == 429


async def test_a_browser_form_post_gets_an_html_429_page(make_client: MakeClient) -> None:
    client = make_client(contact_rate_limit="1/minute")
    headers = {"accept": "text/html"}
    _, first = await client.post("/api/contact", data=VALID_FORM, headers=headers)
    assert first.status == 303
    _, refused = await client.post("/api/contact", data=VALID_FORM, headers=headers)
    assert refused.status == 429
    assert refused.content_type.startswith("text/html")
    assert "Too many messages" in refused.text
    assert "retry-after" in refused.headers


async def test_off_disables_the_limit(make_client: MakeClient) -> None:
    client = make_client(contact_rate_limit="off")
    statuses = {(await post_json(client, VALID_FORM)).status for _ in range(8)}
    assert statuses == {200}


async def test_the_refusal_is_logged_without_content(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(contact_rate_limit="1/minute")
    await post_json(client, VALID_FORM)
    with caplog.at_level(logging.INFO, logger="service.abuse"):
        assert (await post_json(client, VALID_FORM)).status == 429
    assert [r.getMessage() for r in caplog.records if r.name == "service.abuse"] == [
        "abuse: rate_limited"
    ]


async def test_memory_counters_survive_the_listeners_running_again() -> None:
    limits = RateLimits.from_settings(load_settings(contact_rate_limit="1/minute"))
    await limits.open()
    await limits.check_contact("192.0.2.1")
    await limits.close()
    await limits.open()
    with pytest.raises(RateLimited) as caught:
        await limits.check_contact("192.0.2.1")
    assert 1 <= caught.value.retry_after <= 60
    await limits.check_contact("192.0.2.2")


async def test_a_redis_limit_is_shared_by_two_workers(
    make_client: MakeClient, redis_url: str, redis_prefix: str, mail_dir: Path
) -> None:
    shared = {
        "contact_rate_limit": "3/minute",
        "rate_limit_storage_url": redis_url,
        "rate_limit_key_prefix": redis_prefix,
    }
    first, second = make_client(**shared), make_client(**shared)
    statuses = [(await post_json(client, VALID_FORM)).status for client in (first, second) * 2]
    assert statuses == [200, 200, 200, 429]
    assert [kind for kind, _ in mail_kinds(mail_dir)].count("notification") == 3


async def test_redis_holds_a_hash_of_the_confirmation_address_not_the_address(
    redis_url: str, redis_prefix: str
) -> None:
    limits = RateLimits.from_settings(
        load_settings(rate_limit_storage_url=redis_url, rate_limit_key_prefix=redis_prefix)
    )
    await limits.open()
    try:
        assert await limits.allow_confirmation("Zoe@Example.org") is True
        assert await limits.allow_confirmation("zoe@example.org") is False
        redis = limits.counters.storage.bridge.storage
        keys = [str(key) for key in await redis.keys(f"{redis_prefix}*")]
    finally:
        await limits.close()
    assert keys
    assert all("example.org" not in key.lower() for key in keys)
    assert any(address_key("zoe@example.org") in key for key in keys)


async def test_admin_sign_in_attempts_are_shared_in_redis_and_refused_when_it_is_down(
    redis_url: str, redis_prefix: str
) -> None:
    def limits_on(url: str) -> RateLimits:
        settings = load_settings(rate_limit_storage_url=url, rate_limit_key_prefix=redis_prefix)
        return RateLimits.from_settings(settings)

    first, second = limits_on(redis_url), limits_on(redis_url)
    await first.open()
    await second.open()
    try:
        waits = [await limits.check_sign_in("192.0.2.7") for limits in (first, second) * 5]
        assert waits == [None] * 10
        refused = await first.check_sign_in("192.0.2.7")
        assert refused is not None
        assert 3000 < refused <= 3600  # ten an hour
        assert await second.check_sign_in("192.0.2.8") is None
    finally:
        await first.close()
        await second.close()
    down = limits_on(f"redis://127.0.0.1:{free_port()}/0")
    await down.open()
    try:
        assert await down.check_sign_in("192.0.2.7") is not None
    finally:
        await down.close()


async def test_redis_down_lets_submissions_through_but_sends_no_confirmation(
    make_client: MakeClient, mail_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(
        contact_rate_limit="1/minute", rate_limit_storage_url=f"redis://127.0.0.1:{free_port()}/0"
    )
    with caplog.at_level(logging.WARNING, logger="service.abuse"):
        statuses = [(await post_json(client, VALID_FORM)).status for _ in range(2)]
    assert statuses == [200, 200]
    assert [kind for kind, _ in mail_kinds(mail_dir)] == ["notification", "notification"]
    messages = [r.getMessage() for r in caplog.records]
    assert any("submission allowed" in m for m in messages)
    assert any("confirmation not sent" in m for m in messages)


async def test_a_redis_that_never_answers_costs_a_request_the_timeout_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A socket that listens and never accepts: the kernel completes the handshake,
    # then nothing ever answers, as with a hung Redis.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        port = listener.getsockname()[1]
        limits = RateLimits(
            f"redis://127.0.0.1:{port}/0",
            contact=parse_rate_limit("1/minute"),
            confirmation=parse_rate_limit("1/day"),
            key_prefix="hung",
            timeout=0.1,
        )
        try:
            async with asyncio.timeout(10):
                await limits.open()
                started = time.monotonic()
                await limits.check_contact("192.0.2.1")
                await limits.check_contact("192.0.2.1")
                assert await limits.allow_confirmation("zoe@example.org") is False
                elapsed = time.monotonic() - started
        finally:
            await limits.close()
    # Three operations of a few commands each, every one cut short at 0.1 s.
    assert elapsed < 2
    assert "rate-limit storage does not answer" in caplog.text
    assert "submission allowed" in caplog.text


async def test_memory_limits_count_item_after_item_by_their_clock() -> None:
    now = [0.0]
    limits = RateLimits(
        "memory://",
        contact=parse_rate_limit("1/minute;2/hour"),
        confirmation=parse_rate_limit("1/day"),
        key_prefix="unused",
        clock=lambda: now[0],
    )
    await limits.open()
    retry_after = []
    for second in (0, 30.5, 61, 122, 150, 3599.75):
        now[0] = second
        try:
            await limits.check_contact("192.0.2.1")
            retry_after.append(0)
        except RateLimited as refused:
            retry_after.append(refused.retry_after)
    # 30.5 s: the minute refuses for 29.5 s. 122 s: the hour refuses, but the
    # minute counted that hit first, so it refuses at 150 s. 3599.75 s: 0.25 s left.
    assert retry_after == [0, 30, 0, 3600 - 122, 32, 1]


async def test_memory_limits_run_nothing_besides_the_request_however_many_keys(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The limits library's memory storage walks every key in a task of its own,
    # with a thread hop per key: that is the cost these counters are here to avoid.
    hops: list[object] = []
    to_thread = asyncio.to_thread

    async def counting_to_thread(
        func: Callable[..., object], /, *args: object, **kwargs: object
    ) -> object:
        hops.append(func)
        return await to_thread(func, *args, **kwargs)

    monkeypatch.setattr(asyncio, "to_thread", counting_to_thread)
    limits = RateLimits.from_settings(load_settings(confirmation_rate_limit="1/day"))
    before = asyncio.all_tasks()
    await limits.open()
    addresses = [f"visitor{n}@example.org" for n in range(2000)]
    assert [await limits.allow_confirmation(a) for a in addresses] == [True] * 2000
    assert [await limits.allow_confirmation(a) for a in addresses] == [False] * 2000
    started = asyncio.all_tasks() - before
    await asyncio.gather(*started)
    assert (started, hops) == (set(), [])


@pytest.mark.parametrize(
    ("url", "shared"),
    [("memory://", False), ("Memory://", False), ("redis://127.0.0.1:6379/0", True)],
)
def test_memory_in_any_case_is_this_workers_memory(url: str, shared: bool) -> None:
    limits = RateLimits(
        url, contact=parse_rate_limit("1/minute"), confirmation=[], key_prefix="unused"
    )
    assert limits.shared is shared
