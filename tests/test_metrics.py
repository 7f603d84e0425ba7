"""The metrics module: counters, histograms, outbox gauges, refreshers, multiprocess folders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from service.metrics import Metrics, prepare_multiprocess_dir
from service.providers.chain import AttemptEvent

SUBMISSIONS = "contact_mailer_submissions_total"


def samples(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """``{(sample name, sorted labels): value}`` of an exposition."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text.decode())
        for sample in family.samples
    }


def event(provider: str, outcome: str, seconds: float, kind: str | None = None) -> AttemptEvent:
    return AttemptEvent(
        provider=provider,
        attempt=1,
        outcome=outcome,
        error_kind=kind,
        seconds=seconds,
        email_kind="notification",
        message_id="<x@example.com>",
    )


@pytest.fixture(autouse=True)
def single_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """No multiprocess folder, and none left behind by prepare_multiprocess_dir."""
    # Set first so that monkeypatch records the variable and removes it again afterwards.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "")
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR")


async def test_submission_outcomes_exist_at_zero_and_count() -> None:
    metrics = Metrics()
    before = samples(await metrics.render())
    for outcome in ("accepted", "invalid", "spam", "rate_limited"):
        assert before[(SUBMISSIONS, (("form", "contact"), ("outcome", outcome)))] == 0.0

    metrics.submission("accepted", seconds=0.02)
    metrics.submission("accepted", seconds=0.3)
    metrics.submission("invalid")
    after = samples(await metrics.render())

    assert after[(SUBMISSIONS, (("form", "contact"), ("outcome", "accepted")))] == 2.0
    assert after[(SUBMISSIONS, (("form", "contact"), ("outcome", "invalid")))] == 1.0
    assert after[("contact_mailer_accept_seconds_count", ())] == 2.0
    assert after[("contact_mailer_accept_seconds_bucket", (("le", "0.025"),))] == 1.0
    assert after[("contact_mailer_accept_seconds_sum", ())] == pytest.approx(0.32)


def test_an_unknown_submission_outcome_is_a_bug() -> None:
    with pytest.raises(ValueError, match="unknown submission outcome 'maybe'"):
        Metrics().submission("maybe")


async def test_attempts_count_by_provider_and_outcome_and_time_each() -> None:
    metrics = Metrics()
    metrics.attempt(event("smtp", "retried", 2.0, "transient"))
    metrics.attempt(event("smtp", "failed_over", 15.0, "transient"))
    metrics.attempt(event("resend", "sent", 0.2))
    metrics.email_dead("resend")
    metrics.email_dead(None)
    found = samples(await metrics.render())

    def emails(provider: str, outcome: str) -> float:
        key = ("contact_mailer_emails_total", (("outcome", outcome), ("provider", provider)))
        return found[key]

    assert emails("smtp", "retried") == 1.0
    assert emails("smtp", "failed_over") == 1.0
    assert emails("resend", "sent") == 1.0
    assert emails("resend", "dead") == 1.0
    assert emails("none", "dead") == 1.0
    sent_count = (
        "contact_mailer_send_seconds_count",
        (("outcome", "sent"), ("provider", "resend")),
    )
    assert found[sent_count] == 1.0
    slow = (
        "contact_mailer_send_seconds_bucket",
        (("le", "10.0"), ("outcome", "failed_over"), ("provider", "smtp")),
    )
    assert found[slow] == 0.0  # 15 s is above the 10 s bucket


async def test_outbox_gauges_follow_the_latest_observation() -> None:
    metrics = Metrics()
    metrics.observe_outbox({"pending": 3, "sending": 1, "dead": 2}, oldest_pending_seconds=42.5)
    metrics.observe_outbox({"pending": 1}, oldest_pending_seconds=None)
    found = samples(await metrics.render())
    assert found[("contact_mailer_outbox_emails", (("state", "pending"),))] == 1.0
    # A state that emptied out reads 0, not its last count.
    assert found[("contact_mailer_outbox_emails", (("state", "sending"),))] == 0.0
    assert found[("contact_mailer_outbox_emails", (("state", "dead"),))] == 0.0
    assert found[("contact_mailer_outbox_oldest_pending_seconds", ())] == 0.0


async def test_refreshers_run_before_each_scrape() -> None:
    metrics = Metrics()
    depth = {"pending": 0}

    async def read_outbox() -> None:
        depth["pending"] += 1
        metrics.observe_outbox(depth, oldest_pending_seconds=7.0)

    metrics.add_refresher(read_outbox)
    metrics.add_refresher(lambda: None)  # a plain function works too
    await metrics.render()
    found = samples(await metrics.render())
    assert found[("contact_mailer_outbox_emails", (("state", "pending"),))] == 2.0
    assert found[("contact_mailer_outbox_oldest_pending_seconds", ())] == 7.0


async def test_two_instances_do_not_share_series() -> None:
    first, second = Metrics(), Metrics()
    first.submission("invalid")
    key = ("contact_mailer_submissions_total", (("form", "contact"), ("outcome", "invalid")))
    assert samples(await first.render())[key] == 1.0
    assert samples(await second.render())[key] == 0.0


def test_one_worker_needs_no_multiprocess_folder(tmp_path: Path) -> None:
    assert prepare_multiprocess_dir(1, tmp_path / "prometheus") is None
    assert not (tmp_path / "prometheus").exists()
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ


def test_several_workers_get_an_emptied_folder(tmp_path: Path) -> None:
    folder = tmp_path / "var" / "prometheus"
    folder.mkdir(parents=True)
    (folder / "counter_999.db").write_bytes(b"stale")
    (folder / "keep.txt").write_text("not ours")

    assert prepare_multiprocess_dir(4, folder) == folder
    assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(folder)
    assert sorted(p.name for p in folder.iterdir()) == ["keep.txt"]


def test_a_given_folder_is_used_and_emptied_even_with_one_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    given = tmp_path / "given"
    given.mkdir()
    (given / "histogram_1.db").write_bytes(b"stale")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(given))
    assert prepare_multiprocess_dir(1, tmp_path / "default") == given
    assert list(given.iterdir()) == []
