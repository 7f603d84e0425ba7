"""Sample submissions that put templates under stress, for the preview studio and tests.

Each preset is a case a real form receives sooner or later: a name that does
not fit a line, a script the author does not read, no company, a message at
the 5,000-character limit, and text that tries to be markup.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from service.emails.compose import sample_submission
from service.submission import Submission

__all__ = ["PRESETS", "Preset", "long_message", "preset_submission"]

MESSAGE_LIMIT = 5000


@dataclass(frozen=True, slots=True)
class Preset:
    """A named sample submission."""

    label: str
    submission: Submission


def long_message(length: int = MESSAGE_LIMIT) -> str:
    """A message of exactly ``length`` characters: paragraphs, and one unbreakable run."""
    paragraph = (
        "We run a chain of twelve bakeries and are looking for a partner to rebuild our "
        "online ordering. Customers should be able to order ahead, pick a shop and a time, "
        "and pay online; staff need a simple screen per shop. "
    )
    unbreakable = "https://example.org/" + "a-very-long-path-without-spaces-" * 6 + "\n\n"
    parts = [unbreakable]
    while sum(map(len, parts)) < length:
        parts.append(paragraph + ("\n\n" if len(parts) % 3 == 0 else ""))
    return "".join(parts)[: length - 1] + "."


PRESETS: dict[str, Preset] = {
    "sample": Preset("Sample", sample_submission()),
    "long-name": Preset(
        "Long name",
        replace(
            sample_submission(),
            name="Maximiliane Alexandra Bartholomäa von Hohenzollern-Sigmaringen-Wittelsbach",
            company="Internationale Gesellschaft für Lebensmitteltechnologie und Verpackung GmbH",
        ),
    ),
    "non-latin": Preset(
        "Non-Latin text",
        Submission(
            id="sample",
            name="李雷",
            email="li.lei@example.cn",
            company="株式会社サンプル",
            message=(
                "你好！\n我们想为 12 家门店订购新的网站。\n\n"  # noqa: RUF001 - Chinese punctuation
                "Здравствуйте! Пришлите, пожалуйста, цены.\n"
                "مرحبا، نود الحصول على عرض سعر."
            ),
        ),
    ),
    "no-company": Preset("No company", replace(sample_submission(), company=None)),
    "long-message": Preset(
        "5,000-character message", replace(sample_submission(), message=long_message())
    ),
    "hostile": Preset(
        "Hostile input",
        replace(
            sample_submission(),
            name="<b>Eve</b> {{ 7*7 }}",
            company="<script>alert(1)</script>",
            message=(
                "<script>alert(1)</script>\n<img src=x onerror=alert(1)>\n"
                "&lt;b&gt;not bold&lt;/b&gt;\n{{ 7*7 }} {% raw %}{% endraw %}"
            ),
        ),
    ),
}
"""Every preset by its key, the default first."""


def preset_submission(key: str, locale: str) -> Submission:
    """Preset ``key`` as a visitor writing in ``locale`` sends it: the sample text translated."""
    submission = PRESETS[key].submission
    if submission.message == sample_submission().message:
        submission = replace(submission, message=sample_submission(locale).message)
    return replace(submission, locale=locale)
