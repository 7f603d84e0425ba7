"""The provider chain: the decision table row by row, the cool-down, logs and counters."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from email import message_from_bytes
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from service.config import ConfigError, load_settings
from service.providers.base import Provider, SendResult
from service.providers.chain import AttemptEvent, Decision, ProviderChain, decide
from service.providers.errors import (
    ChainExhausted,
    MessageRejected,
    ProviderUnavailable,
    TransientError,
)
from service.providers.file import FileProvider
from service.providers.registry import PROVIDER_NAMES, build_providers

if TYPE_CHECKING:
    from service.config import Settings
    from service.message import OutgoingEmail
    from tests.provider_doubles import FakeTime, ScriptedProvider

    Scripted = Callable[..., ScriptedProvider]

BODY_MARKER = "body-marker-7f3a"  # the body text of the chain_email fixture


def make_chain(fake_time: FakeTime, *providers: Provider, **knobs: float) -> ProviderChain:
    """A chain on fake time with the documented defaults unless ``knobs`` say otherwise."""
    return ProviderChain(providers, clock=fake_time, sleep=fake_time.sleep, **knobs)  # type: ignore[arg-type]


def eml_files(directory: Path) -> list[Path]:
    """The emails the ``file`` provider wrote to ``directory``."""
    return sorted(directory.glob("*.eml"))


@pytest.mark.parametrize(
    ("error", "retries_left", "decision"),
    [
        (TransientError("x", provider="p"), True, Decision.RETRY),
        (TransientError("x", provider="p"), False, Decision.FAIL_OVER),
        (ProviderUnavailable("x", provider="p", code=535), True, Decision.FAIL_OVER),
        (MessageRejected("x", provider="p"), True, Decision.STOP),
        (MessageRejected("x", provider="p"), False, Decision.STOP),
        (KeyError("x"), True, Decision.FAIL_OVER),
    ],
)
def test_decide_maps_each_error_kind(
    error: BaseException, retries_left: bool, decision: Decision
) -> None:
    assert decide(error, retries_left=retries_left) is decision


async def test_transient_then_success_retries_the_same_provider(
    fake_time: FakeTime, scripted_provider: Scripted, chain_email: OutgoingEmail
) -> None:
    smtp = scripted_provider("smtp", ["transient", "sent"])
    resend = scripted_provider("resend", ["sent"])
    chain = make_chain(fake_time, smtp, resend)

    result = await chain.send(chain_email)

    assert result == SendResult(provider="smtp", message_id="smtp-2", attempt=2, seconds=0.0)
    assert (smtp.calls, resend.calls) == (2, 0)
    assert len(fake_time.sleeps) == 1
    assert 1.0 <= fake_time.sleeps[0] <= 2.0  # first backoff: 1 s plus up to 1 s of jitter
    assert chain.stats["smtp"] == {"sent": 1, "retried": 1, "failed_over": 0, "rejected": 0}
    assert chain.cooldowns == {}


async def test_transient_exhausted_fails_over_and_cools_down(
    fake_time: FakeTime, scripted_provider: Scripted, chain_email: OutgoingEmail
) -> None:
    smtp = scripted_provider("smtp", ["transient"])
    resend = scripted_provider("resend", ["sent"])
    chain = make_chain(fake_time, smtp, resend, attempts=3, cooldown=60)

    result = await chain.send(chain_email)

    assert result.provider == "resend"
    assert smtp.calls == 3
    assert len(fake_time.sleeps) == 2
    assert fake_time.sleeps[1] >= 2.0  # the backoff grows
    assert chain.stats["smtp"] == {"sent": 0, "retried": 2, "failed_over": 1, "rejected": 0}
    assert chain.stats["resend"]["sent"] == 1
    assert chain.cooldowns == {"smtp": pytest.approx(60.0)}


async def test_retries_stop_when_the_time_budget_is_spent(
    fake_time: FakeTime, scripted_provider: Scripted, chain_email: OutgoingEmail
) -> None:
    smtp = scripted_provider("smtp", ["transient"], duration=1.5)
    resend = scripted_provider("resend", ["sent"])
    chain = make_chain(fake_time, smtp, resend, attempts=20, max_seconds=6)
    started = fake_time.now

    result = await chain.send(chain_email)

    assert result.provider == "resend"
    # Attempts start at 0, about 3 and exactly 6 s: the last wait is cut to what
    # is left of the budget, and the attempt that then fails leaves none.
    assert smtp.calls == 3
    assert sum(fake_time.sleeps) == pytest.approx(6.0 - 2 * 1.5)
    assert fake_time.now - started == pytest.approx(7.5)


async def test_retry_after_is_honoured(
    fake_time: FakeTime, scripted_provider: Scripted, chain_email: OutgoingEmail
) -> None:
    hint = TransientError("rate limited", provider="resend", code=429, retry_after=4.0)
    resend = scripted_provider("resend", [hint, "sent"])
    chain = make_chain(fake_time, resend, max_seconds=20)

    result = await chain.send(chain_email)

    assert result.provider == "resend"
    assert fake_time.sleeps == [4.0]


async def test_retry_after_beyond_the_budget_fails_over_at_once(
    fake_time: FakeTime, scripted_provider: Scripted, chain_email: OutgoingEmail
) -> None:
    hint = TransientError("rate limited", provider="resend", code=429, retry_after=3600)
    resend = scripted_provider("resend", [hint, "sent"], duration=1.0)
    postmark = scripted_provider("postmark", ["sent"])
    chain = make_chain(fake_time, resend, postmark, max_seconds=5)

    result = await chain.send(chain_email)

    assert result.provider == "postmark"
    assert resend.calls == 1
    assert fake_time.sleeps == []


async def test_retry_after_within_the_budget_waits_what_was_asked(
    fake_time: FakeTime, scripted_provider: Scripted, chain_email: OutgoingEmail
) -> None:
    hint = TransientError("rate limited", provider="resend", code=429, retry_after=3.5)
    resend = scripted_provider("resend", [hint, "sent"], duration=1.0)
    chain = make_chain(fake_time, resend, max_seconds=5)

    await chain.send(chain_email)

    assert fake_time.sleeps == [3.5]


async def test_unavailable_fails_over_at_once_without_retry(
    fake_time: FakeTime, scripted_provider: Scripted, chain_email: OutgoingEmail
) -> None:
    smtp = scripted_provider("smtp", ["unavailable"])  # a 535: retrying earns a lockout
    resend = scripted_provider("resend", ["sent"])
    chain = make_chain(fake_time, smtp, resend, attempts=5, cooldown=60)

    result = await chain.send(chain_email)

    assert result.provider == "resend"
    assert smtp.calls == 1
    assert fake_time.sleeps == []
    assert chain.stats["smtp"] == {"sent": 0, "retried": 0, "failed_over": 1, "rejected": 0}
    assert chain.cooldowns == {"smtp": pytest.approx(60.0)}


async def test_cooling_provider_is_skipped_by_later_messages_until_the_cool_down_ends(
    fake_time: FakeTime,
    scripted_provider: Scripted,
    provider_journal: list[str],
    chain_email: OutgoingEmail,
) -> None:
    smtp = scripted_provider("smtp", ["unavailable", "sent"])
    resend = scripted_provider("resend", ["sent"])
    chain = make_chain(fake_time, smtp, resend, cooldown=60)
    await chain.send(chain_email)

    fake_time.advance(59)
    during = await chain.send(chain_email)
    assert during.provider == "resend"
    assert smtp.calls == 1
    assert chain.cooldowns == {"smtp": pytest.approx(1.0)}

    fake_time.advance(1)
    after = await chain.send(chain_email)
    assert after.provider == "smtp"
    assert provider_journal == ["smtp", "resend", "resend", "smtp"]
    assert chain.cooldowns == {}


async def test_all_providers_cooling_down_are_still_tried_in_order(
    fake_time: FakeTime,
    scripted_provider: Scripted,
    provider_journal: list[str],
    chain_email: OutgoingEmail,
) -> None:
    smtp = scripted_provider("smtp", ["unavailable", "unavailable", "sent"])
    resend = scripted_provider("resend", ["unavailable"])
    chain = make_chain(fake_time, smtp, resend, cooldown=60)
    with pytest.raises(ChainExhausted):
        await chain.send(chain_email)
    assert set(chain.cooldowns) == {"smtp", "resend"}

    with pytest.raises(ChainExhausted):
        await chain.send(chain_email)
    delivered = await chain.send(chain_email)

    assert delivered.provider == "smtp"
    assert provider_journal == ["smtp", "resend", "smtp", "resend", "smtp"]
    assert set(chain.cooldowns) == {"resend"}  # a delivery clears the cool-down


async def test_cooling_provider_is_the_last_resort_when_the_others_fail(
    fake_time: FakeTime,
    scripted_provider: Scripted,
    provider_journal: list[str],
    chain_email: OutgoingEmail,
) -> None:
    smtp = scripted_provider("smtp", ["unavailable", "sent"])
    resend = scripted_provider("resend", ["sent", "unavailable"])
    chain = make_chain(fake_time, smtp, resend, cooldown=60)
    await chain.send(chain_email)

    result = await chain.send(chain_email)

    assert result.provider == "smtp"
    assert provider_journal == ["smtp", "resend", "resend", "smtp"]


async def test_zero_cool_down_never_skips_a_provider(
    fake_time: FakeTime,
    scripted_provider: Scripted,
    provider_journal: list[str],
    chain_email: OutgoingEmail,
) -> None:
    smtp = scripted_provider("smtp", ["unavailable"])
    resend = scripted_provider("resend", ["sent"])
    chain = make_chain(fake_time, smtp, resend, cooldown=0)

    await chain.send(chain_email)
    await chain.send(chain_email)

    assert provider_journal == ["smtp", "resend", "smtp", "resend"]
    assert chain.cooldowns == {}


async def test_rejected_stops_the_chain(
    fake_time: FakeTime, scripted_provider: Scripted, chain_email: OutgoingEmail
) -> None:
    smtp = scripted_provider("smtp", ["rejected"])
    resend = scripted_provider("resend", ["sent"])
    chain = make_chain(fake_time, smtp, resend)

    with pytest.raises(ChainExhausted) as caught:
        await chain.send(chain_email)

    assert caught.value.rejected
    assert (smtp.calls, resend.calls) == (1, 0)
    assert fake_time.sleeps == []
    assert chain.stats["smtp"] == {"sent": 0, "retried": 0, "failed_over": 0, "rejected": 1}
    assert chain.cooldowns == {}  # the provider is fine; the message was not


async def test_all_down_raises_one_error_naming_each_answer(
    fake_time: FakeTime, scripted_provider: Scripted, chain_email: OutgoingEmail
) -> None:
    smtp = scripted_provider("smtp", ["unavailable"])
    resend = scripted_provider(
        "resend", [TransientError("server error", provider="resend", code=503)]
    )
    chain = make_chain(fake_time, smtp, resend, attempts=2)

    with pytest.raises(ChainExhausted) as caught:
        await chain.send(chain_email)

    assert not caught.value.rejected
    assert [type(error) for error in caught.value.errors] == [ProviderUnavailable, TransientError]
    message = str(caught.value)
    assert "smtp: unavailable [535]: authentication failed" in message
    assert "resend: transient [503]: server error" in message
    assert resend.calls == 2


async def test_an_unexpected_exception_from_deliver_fails_over(
    fake_time: FakeTime, scripted_provider: Scripted, chain_email: OutgoingEmail
) -> None:
    smtp = scripted_provider("smtp", [KeyError("recipients")])
    resend = scripted_provider("resend", ["sent"])
    chain = make_chain(fake_time, smtp, resend)

    result = await chain.send(chain_email)

    assert result.provider == "resend"
    assert smtp.calls == 1
    assert "smtp" in chain.cooldowns


async def test_cancellation_is_not_a_provider_failure(
    fake_time: FakeTime, scripted_provider: Scripted, chain_email: OutgoingEmail
) -> None:
    # Shutdown cancels in-flight sends; that must neither fail over nor cool a provider down.
    smtp = scripted_provider("smtp", [asyncio.CancelledError()])
    resend = scripted_provider("resend", ["sent"])
    chain = make_chain(fake_time, smtp, resend)

    with pytest.raises(asyncio.CancelledError):
        await chain.send(chain_email)

    assert (smtp.calls, resend.calls) == (1, 0)
    assert chain.cooldowns == {}
    assert chain.stats["smtp"]["failed_over"] == 0


class RawSendProvider(Provider):
    """A provider that overrides ``send`` itself and so skips the base's translation."""

    name = "raw"

    @classmethod
    def from_settings(cls, settings: Settings, **shared: object) -> RawSendProvider:
        return cls()

    async def send(self, email: OutgoingEmail) -> SendResult:
        raise RuntimeError("a bug in the provider")

    async def deliver(self, email: OutgoingEmail) -> SendResult:
        raise NotImplementedError


async def test_an_untranslated_exception_never_escapes_the_chain(
    fake_time: FakeTime, scripted_provider: Scripted, chain_email: OutgoingEmail
) -> None:
    chain = make_chain(fake_time, RawSendProvider(), scripted_provider("resend", ["unavailable"]))

    with pytest.raises(ChainExhausted) as caught:
        await chain.send(chain_email)

    first = caught.value.errors[0]
    assert isinstance(first, ProviderUnavailable)
    assert str(first) == "raw: unavailable: unexpected RuntimeError"
    assert isinstance(first.__cause__, RuntimeError)


async def test_real_file_provider_takes_over_when_the_first_provider_is_down(
    fake_time: FakeTime,
    scripted_provider: Scripted,
    chain_email: OutgoingEmail,
    tmp_path: Path,
) -> None:
    directory = tmp_path / "mail"
    chain = make_chain(
        fake_time, scripted_provider("smtp", ["unavailable"]), FileProvider(directory)
    )
    await chain.open()

    result = await chain.send(chain_email)
    await chain.close()

    assert result.provider == "file"
    files = eml_files(directory)
    assert [path.stem for path in files] == [result.message_id]
    parsed = message_from_bytes(files[0].read_bytes())
    assert parsed["Message-ID"] == chain_email.message_id


async def test_attempts_are_logged_without_the_body(
    fake_time: FakeTime,
    scripted_provider: Scripted,
    chain_email: OutgoingEmail,
    caplog: pytest.LogCaptureFixture,
) -> None:
    smtp = scripted_provider("smtp", ["transient", "unavailable"], duration=0.25)
    resend = scripted_provider("resend", ["sent"], duration=0.04)
    chain = make_chain(fake_time, smtp, resend)
    caplog.set_level(logging.DEBUG, logger="service.providers.chain")

    await chain.send(chain_email)

    attempts = [record for record in caplog.records if hasattr(record, "attempt")]
    assert [
        (r.provider, r.attempt, r.outcome, r.error_kind, r.duration_ms)  # type: ignore[attr-defined]
        for r in attempts
    ] == [
        ("smtp", 1, "retry", "transient", 250),
        ("smtp", 2, "fail_over", "unavailable", 250),
        ("resend", 1, "sent", None, 40),
    ]
    assert all(r.message_id == chain_email.message_id for r in attempts)  # type: ignore[attr-defined]
    assert "smtp attempt 1 for confirmation" in attempts[0].getMessage()
    assert "retrying in" in attempts[0].getMessage()
    assert "cools down for 60 s" in attempts[1].getMessage()
    for record in caplog.records:
        assert BODY_MARKER not in record.getMessage()
        assert all(BODY_MARKER not in str(value) for value in vars(record).values())


def test_chain_knobs_come_from_settings() -> None:
    settings = load_settings(retry_attempts=5, retry_max_seconds=7.5, provider_cooldown_seconds=30)

    chain = ProviderChain.from_settings(settings, [])

    assert (chain.attempts, chain.max_seconds, chain.cooldown) == (5, 7.5, 30)


async def test_email_providers_file_builds_a_working_chain(
    monkeypatch: pytest.MonkeyPatch,
    chain_email: OutgoingEmail,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("EMAIL_PROVIDERS", "file")
    monkeypatch.setenv("EMAIL_FILE_DIR", str(tmp_path))
    settings = load_settings()
    chain = ProviderChain.from_settings(settings, build_providers(settings))
    await chain.open()

    result = await chain.send(chain_email)
    await chain.close()

    assert chain.names == ["file"]
    assert result.provider == "file"
    assert len(eml_files(tmp_path)) == 1


async def test_email_providers_sets_the_order() -> None:
    pytest.importorskip("service.providers.smtp", reason="the smtp provider is not merged yet")
    pytest.importorskip("service.providers.resend", reason="the resend provider is not merged yet")
    settings = load_settings(
        email_providers="Resend, smtp",
        email_address="owner@example.com",
        email_password="abcd efgh ijkl mnop",
        resend_api_key="re_test",
    )

    async with httpx.AsyncClient() as client:
        chain = ProviderChain(build_providers(settings, http_client=client))

    assert chain.names == ["resend", "smtp"]


def test_unknown_provider_name_fails_with_the_valid_names() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(email_providers="smtp,gmail")

    message = str(caught.value)
    assert message.startswith("EMAIL_PROVIDERS:")
    assert "'gmail'" in message
    for name in PROVIDER_NAMES:
        assert name in message


def test_a_provider_listed_twice_is_refused(
    fake_time: FakeTime, scripted_provider: Scripted
) -> None:
    with pytest.raises(ValueError, match="listed twice"):
        make_chain(fake_time, scripted_provider("smtp", ["sent"]), scripted_provider("smtp", []))


async def test_an_empty_chain_says_so(fake_time: FakeTime, chain_email: OutgoingEmail) -> None:
    with pytest.raises(ChainExhausted, match="no provider configured"):
        await make_chain(fake_time).send(chain_email)


class RecordingObserver:
    """Keeps every event it is told about."""

    def __init__(self) -> None:
        self.events: list[AttemptEvent] = []

    def attempt(self, event: AttemptEvent) -> None:
        self.events.append(event)


async def test_observers_hear_every_attempt_with_its_outcome(
    fake_time: FakeTime, scripted_provider: Scripted, chain_email: OutgoingEmail
) -> None:
    smtp = scripted_provider("smtp", ["transient", "unavailable"], duration=0.5)
    resend = scripted_provider("resend", ["sent"], duration=0.25)
    first, second = RecordingObserver(), RecordingObserver()
    chain = make_chain(fake_time, smtp, resend)
    chain.observers.extend([first, second])

    await chain.send(chain_email)

    summary = [(e.provider, e.attempt, e.outcome, e.error_kind, e.seconds) for e in first.events]
    assert summary == [
        ("smtp", 1, "retried", "transient", 0.5),
        ("smtp", 2, "failed_over", "unavailable", 0.5),
        ("resend", 1, "sent", None, 0.25),
    ]
    assert {(e.email_kind, e.message_id) for e in first.events} == {
        ("confirmation", chain_email.message_id)
    }
    assert second.events == first.events


async def test_a_rejection_is_reported_as_rejected(
    fake_time: FakeTime, scripted_provider: Scripted, chain_email: OutgoingEmail
) -> None:
    observer = RecordingObserver()
    chain = ProviderChain(
        [scripted_provider("postmark", ["rejected"])],
        clock=fake_time,
        sleep=fake_time.sleep,
        observers=[observer],
    )
    with pytest.raises(ChainExhausted):
        await chain.send(chain_email)
    assert [(e.outcome, e.error_kind) for e in observer.events] == [("rejected", "rejected")]


async def test_a_failing_observer_changes_nothing_and_is_logged(
    fake_time: FakeTime,
    scripted_provider: Scripted,
    chain_email: OutgoingEmail,
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken:
        def attempt(self, event: AttemptEvent) -> None:
            raise RuntimeError("observer bug")

    after = RecordingObserver()
    chain = make_chain(fake_time, scripted_provider("resend", ["sent"]))
    chain.observers.extend([Broken(), after])

    result = await chain.send(chain_email)

    assert result.provider == "resend"
    assert [e.outcome for e in after.events] == ["sent"]
    failures = [r for r in caplog.records if r.getMessage() == "chain observer Broken failed"]
    assert len(failures) == 1
    assert failures[0].exc_info is not None


def test_from_settings_passes_the_observers(settings: Settings) -> None:
    observer = RecordingObserver()
    chain = ProviderChain.from_settings(settings, [], observers=[observer])
    assert chain.observers == [observer]
