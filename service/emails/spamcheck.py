"""Score an email with SpamAssassin, offline, as a template author's check.

``spamassassin -L -t`` runs the local rules only (no DNS, no network tests)
and appends a report to the message; we read its table of fired rules. This
is a development aid for the preview studio and a test, not a delivery gate.
"""

from __future__ import annotations

import asyncio
import re
import shutil
from dataclasses import dataclass

__all__ = [
    "SpamCheckError",
    "SpamCheckUnavailable",
    "SpamReport",
    "SpamRule",
    "check_spam",
    "parse_report",
    "spamassassin_path",
]

_SUMMARY = re.compile(
    r"Content analysis details:\s+\((?P<score>-?\d+(?:\.\d+)?) points, "
    r"(?P<required>-?\d+(?:\.\d+)?) required\)"
)
_RULE = re.compile(r"^\s*(?P<score>-?\d+(?:\.\d+)?)\s+(?P<name>[A-Z0-9_]+)\s+(?P<text>.*)$")
_CONTINUATION = re.compile(r"^\s{20,}(?P<text>\S.*)$")


class SpamCheckError(Exception):
    """SpamAssassin ran but gave no usable report (a timeout, a crash, an unknown format)."""


class SpamCheckUnavailable(SpamCheckError):
    """SpamAssassin is not installed."""


@dataclass(frozen=True, slots=True)
class SpamRule:
    """One rule that fired, with the points it added."""

    name: str
    score: float
    description: str


@dataclass(frozen=True, slots=True)
class SpamReport:
    """SpamAssassin's verdict: the total score, the spam threshold and the rules that fired."""

    score: float
    required: float
    rules: tuple[SpamRule, ...]


def spamassassin_path() -> str | None:
    """Where the ``spamassassin`` command is, or ``None`` when it is not installed."""
    return shutil.which("spamassassin")


def parse_report(output: str) -> SpamReport:
    """Read the report ``spamassassin -t`` appends to the message it prints."""
    # The report is the last thing printed; a message could quote an old one.
    start = output.rfind("Content analysis details:")
    summary = _SUMMARY.match(output, start) if start >= 0 else None
    if summary is None:
        raise SpamCheckError("SpamAssassin printed no report")
    rules: list[SpamRule] = []
    for line in output[summary.end() :].splitlines():
        if rule := _RULE.match(line):
            rules.append(SpamRule(rule["name"], float(rule["score"]), rule["text"].strip()))
        elif rules and (more := _CONTINUATION.match(line)):
            last = rules[-1]
            rules[-1] = SpamRule(last.name, last.score, f"{last.description} {more['text']}")
    return SpamReport(
        score=float(summary["score"]), required=float(summary["required"]), rules=tuple(rules)
    )


async def check_spam(
    message: bytes, *, time_limit: float = 60.0, executable: str | None = None
) -> SpamReport:
    """Score ``message`` (RFC 5322 bytes) with local SpamAssassin rules only.

    Raises :class:`SpamCheckUnavailable` when SpamAssassin is not installed and
    :class:`SpamCheckError` when it fails or takes longer than ``time_limit`` seconds
    (then the process is killed: a caller's cancellation alone would leave it running).
    """
    command = executable or spamassassin_path()
    if command is None:
        raise SpamCheckUnavailable("SpamAssassin is not installed (Debian package spamassassin)")
    # -L: local tests only; -t: test mode, append the report; -x: create no ~/.spamassassin.
    try:
        process = await asyncio.create_subprocess_exec(
            command,
            "-L",
            "-t",
            "-x",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
    except OSError as err:
        raise SpamCheckUnavailable(f"cannot run {command}: {err.strerror or err}") from err
    try:
        stdout, _ = await asyncio.wait_for(process.communicate(message), time_limit)
    except TimeoutError as err:
        process.kill()
        await process.wait()
        raise SpamCheckError(f"SpamAssassin took longer than {time_limit:g} s") from err
    if process.returncode != 0:
        raise SpamCheckError(f"SpamAssassin exited with status {process.returncode}")
    return parse_report(stdout.decode("utf-8", "replace"))
