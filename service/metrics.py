"""Prometheus metrics: what was submitted, what was sent through which provider, what waits.

One :class:`Metrics` per app, each with its own registry, so that building
several apps in one process (tests) never registers a series twice. With
several worker processes (``WORKERS`` > 1) every process writes its values to
``PROMETHEUS_MULTIPROC_DIR`` (``python -m service`` sets it) and a scrape adds
them up, through prometheus-client's multiprocess mode.

Feeding it:

- ``submission(outcome, form=...)``: a form submission, ``accepted`` also with the time it took;
- ``attempt(event)``: the provider chain's observer, one call per attempt;
- ``email_dead(provider)``: the outbox gave up on an email;
- ``email_suppressed()``: the outbox did not send a confirmation to a suppressed address;
- ``observe_outbox(depth, oldest_pending_seconds)``: the outbox's state, typically from
  a refresher registered with ``add_refresher``, which runs before every scrape.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    values,
)
from prometheus_client.multiprocess import MultiProcessCollector

if TYPE_CHECKING:
    from service.providers.chain import AttemptEvent

__all__ = [
    "CONTENT_TYPE",
    "EMAIL_OUTCOMES",
    "MULTIPROC_VARIABLE",
    "SUBMISSION_OUTCOMES",
    "Metrics",
    "prepare_multiprocess_dir",
    "use_multiprocess_values",
]

CONTENT_TYPE = CONTENT_TYPE_LATEST
MULTIPROC_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
PREFIX = "contact_mailer"

SUBMISSION_OUTCOMES = ("accepted", "invalid", "spam", "rate_limited")
EMAIL_OUTCOMES = ("sent", "retried", "failed_over", "rejected", "dead", "suppressed")

# Accepting is answering a form post; sending is one call to a provider, which may time out.
ACCEPT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
SEND_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0, 60.0)

Refresher = Callable[[], Awaitable[None] | None]


class Metrics:
    """The service's metrics, in a registry of their own."""

    def __init__(self, forms: Iterable[str] = ("contact",)) -> None:
        self.registry = CollectorRegistry()
        self._refreshers: list[Refresher] = []
        self._outbox_states: set[str] = set()
        self._attempt_series: dict[tuple[str, str], tuple[Counter, Histogram]] = {}
        self.submissions = Counter(
            f"{PREFIX}_submissions",
            "Form submissions, by form and outcome.",
            ["form", "outcome"],
            registry=self.registry,
        )
        self.emails = Counter(
            f"{PREFIX}_emails",
            "Email send attempts and their end, by provider and outcome "
            "(sent, retried, failed_over, rejected; dead when the outbox gives up, "
            "suppressed when a confirmation's address was suppressed before it was sent).",
            ["provider", "outcome"],
            registry=self.registry,
        )
        self.accept_seconds = Histogram(
            f"{PREFIX}_accept_seconds",
            "Time to accept a submission: the duration of a successful form post.",
            buckets=ACCEPT_BUCKETS,
            registry=self.registry,
        )
        self.send_seconds = Histogram(
            f"{PREFIX}_send_seconds",
            "Duration of one send attempt, by provider and outcome.",
            ["provider", "outcome"],
            buckets=SEND_BUCKETS,
            registry=self.registry,
        )
        # "mostrecent": with several processes, the last value written wins, not their sum.
        self.outbox_depth = Gauge(
            f"{PREFIX}_outbox_emails",
            "Emails in the outbox, by state.",
            ["state"],
            multiprocess_mode="mostrecent",
            registry=self.registry,
        )
        self.outbox_oldest_pending = Gauge(
            f"{PREFIX}_outbox_oldest_pending_seconds",
            "Age of the oldest email waiting to be sent; 0 when none waits.",
            multiprocess_mode="mostrecent",
            registry=self.registry,
        )
        self.delivery_events = Counter(
            f"{PREFIX}_delivery_events",
            "Provider webhook events, by provider and normalised event (delivered, deferred, "
            "bounced, complained, rejected; ignored, duplicate, unmatched when not recorded).",
            ["provider", "event"],
            registry=self.registry,
        )
        self.owner_alarms = Counter(
            f"{PREFIX}_owner_delivery_alarms",
            "Owner notifications that bounced or were marked as spam, by provider and event.",
            ["provider", "event"],
            registry=self.registry,
        )
        self.spam_marks = Counter(
            f"{PREFIX}_spam_marks",
            "Submissions an operator marked as spam (mark=spam) or not spam (mark=ham), by form.",
            ["form", "mark"],
            registry=self.registry,
        )
        # Series that exist from the start, so that rate() and alerts see a 0 before the first 1.
        # One series per form and outcome: the forms are the configuration's, never a visitor's.
        for form in forms:
            for outcome in SUBMISSION_OUTCOMES:
                self.submissions.labels(form=form, outcome=outcome)

    def submission(
        self, outcome: str, *, form: str = "contact", seconds: float | None = None
    ) -> None:
        """Count a post to ``form``; ``seconds`` of an accepted one go to the accept histogram."""
        if outcome not in SUBMISSION_OUTCOMES:
            raise ValueError(f"unknown submission outcome {outcome!r}")
        self.submissions.labels(form=form, outcome=outcome).inc()
        if outcome == "accepted" and seconds is not None:
            self.accept_seconds.observe(seconds)

    def attempt(self, event: AttemptEvent) -> None:
        """The chain's observer: count the attempt's outcome and time it."""
        key = (event.provider, event.outcome)
        series = self._attempt_series.get(key)
        if series is None:
            # labels() takes a lock and builds its key on every call: once per pair is enough.
            labels = {"provider": event.provider, "outcome": event.outcome}
            series = (self.emails.labels(**labels), self.send_seconds.labels(**labels))
            self._attempt_series[key] = series
        count, seconds = series
        count.inc()
        seconds.observe(event.seconds)

    def email_dead(self, provider: str | None) -> None:
        """Count an email the outbox gave up on; ``provider`` is the last one tried."""
        self.emails.labels(provider=provider or "none", outcome="dead").inc()

    def email_suppressed(self) -> None:
        """Count a confirmation not sent because its address was suppressed while it waited."""
        self.emails.labels(provider="none", outcome="suppressed").inc()

    def delivery_event(self, provider: str, event: str) -> None:
        """Count one webhook event (a normalised event name, or how it was not recorded)."""
        self.delivery_events.labels(provider=provider, event=event).inc()

    def owner_alarm(self, provider: str, event: str) -> None:
        """Count an owner notification that bounced or was reported as spam."""
        self.owner_alarms.labels(provider=provider, event=event).inc()

    def spam_mark(self, form: str, *, spam: bool) -> None:
        """Count an operator's spam (or not-spam) mark on a submission of ``form``."""
        self.spam_marks.labels(form=form, mark="spam" if spam else "ham").inc()

    def observe_outbox(
        self, depth: Mapping[str, int], oldest_pending_seconds: float | None
    ) -> None:
        """Set the outbox gauges; a state seen before but absent from ``depth`` is set to 0."""
        self._outbox_states.update(depth)
        for state in self._outbox_states:
            self.outbox_depth.labels(state=state).set(depth.get(state, 0))
        self.outbox_oldest_pending.set(oldest_pending_seconds or 0.0)

    def add_refresher(self, refresh: Refresher) -> None:
        """Run ``refresh`` (a function or coroutine function) before every scrape."""
        self._refreshers.append(refresh)

    async def render(self) -> bytes:
        """The text exposition of every metric, across processes in multiprocess mode."""
        for refresh in self._refreshers:
            result = refresh()
            if inspect.isawaitable(result):
                await result
        directory = os.environ.get(MULTIPROC_VARIABLE)
        if directory:
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=directory)
            return generate_latest(registry)
        return generate_latest(self.registry)


def prepare_multiprocess_dir(workers: int, default: Path) -> Path | None:
    """In the main process, before workers start: choose and empty the multiprocess folder.

    ``PROMETHEUS_MULTIPROC_DIR`` is kept when set; with several workers and no
    folder given, ``default`` is used and exported for the workers to inherit.
    Files left by an earlier run are removed, or their counts would be added to
    this run's. Returns the folder, or ``None`` in single-process mode.
    """
    given = os.environ.get(MULTIPROC_VARIABLE)
    if not given and workers <= 1:
        return None
    directory = Path(given) if given else default.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROC_VARIABLE] = str(directory)
    return directory


def use_multiprocess_values() -> None:
    """Metrics built from now on write to ``PROMETHEUS_MULTIPROC_DIR`` if it is set.

    prometheus-client picks its value class when it is imported, which in the
    server's main process is before :func:`prepare_multiprocess_dir` exports the
    variable; the workers are forked from that process, with its choice.
    """
    values.ValueClass = values.get_value_class()
