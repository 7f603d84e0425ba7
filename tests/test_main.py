"""End to end: ``python -m service`` as a subprocess, a form post, two .eml files."""

from __future__ import annotations

import email
import email.policy
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.process import ROOT, ServiceProcess, running_service, wait_for

pytestmark = pytest.mark.slow


def test_serves_the_form_and_writes_both_emails(tmp_path: Path) -> None:
    with running_service(tmp_path, {"CONTACT_RECIPIENTS": "owner@example.com"}) as base_url:
        response = httpx.post(
            f"{base_url}/api/contact",
            data={"name": "李雷", "email": "li@example.org", "message": "你好\nsecond line"},
        )
        assert response.status_code == 200
        assert response.json()["success"] is True
        too_big = httpx.post(
            f"{base_url}/api/contact",
            content=b"x" * (65 * 1024),
            headers={"content-type": "application/json"},
        )
        assert too_big.status_code == 413
        assert too_big.json()["success"] is False
        # The answer came first; the outbox worker delivers in the background.
        wait_for(lambda: len(list((tmp_path / "var" / "mail").glob("*.eml"))) == 2)

    files = sorted((tmp_path / "var" / "mail").glob("*.eml"))
    assert (tmp_path / "var" / "outbox.db").exists()
    messages = [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default) for path in files
    ]
    assert sorted(message["To"] for message in messages) == ["li@example.org", "owner@example.com"]
    for message in messages:
        assert message.get_content_type() == "multipart/alternative"
        assert [part.get_content_type() for part in message.iter_parts()] == [
            "text/plain",
            "text/html",
        ]
    log = (tmp_path / "service.log").read_text()
    assert "file provider writes emails to" in log
    assert "你好" not in log


def test_several_workers_share_their_metrics(tmp_path: Path) -> None:
    """WORKERS=2: every scrape adds up both workers; counts of an earlier run are gone."""
    folder = tmp_path / "var" / "prometheus"
    folder.mkdir(parents=True)
    earlier_run = (
        "from service.metrics import Metrics\n"
        "metrics = Metrics()\n"
        "for _ in range(5):\n"
        "    metrics.submission('accepted')\n"
    )
    subprocess.run(
        [sys.executable, "-c", earlier_run],
        env={"PYTHONPATH": str(ROOT), "PROMETHEUS_MULTIPROC_DIR": str(folder)},
        check=True,
        timeout=60,
    )
    assert list(folder.glob("counter_*.db"))

    with running_service(tmp_path, {"WORKERS": "2"}) as base_url:
        for _ in range(3):
            response = httpx.post(
                f"{base_url}/api/contact",
                json={"name": "A", "email": "a@example.org", "message": "hi"},
            )
            assert response.status_code == 200
        scrapes = {accepted(httpx.get(f"{base_url}/metrics").text) for _ in range(6)}

    assert scrapes == {3.0}
    assert len({path.name.split("_")[-1] for path in folder.glob("counter_*.db")}) >= 2


def accepted(exposition: str) -> float:
    """The contact form's ``accepted`` submissions count in a Prometheus exposition."""
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            name, labels = sample.name, sample.labels
            wanted = {"form": "contact", "outcome": "accepted"}
            if name == "contact_mailer_submissions_total" and labels == wanted:
                return sample.value
    raise AssertionError("no accepted submissions series")


def test_a_stop_signal_right_after_the_first_answer_ends_the_service(tmp_path: Path) -> None:
    """SIGTERM while Sanic's manager still waits for its worker's "ready" (sanic#2997).

    Unmended, the manager re-read its own shutdown message forever at full CPU and
    the process had to be killed; the stop comes within about 0.1 s of the first
    200, the window it needs (each of ten such stops hung before the fix).
    """
    for run in range(3):
        service = ServiceProcess(tmp_path / str(run), {"EMAIL_PROVIDERS": "file"})
        service.cwd.mkdir()
        service.start()
        code = service.stop(timeout=10)
        log = service.log_path.read_text()
        assert code == 0, log
        assert "Server Stopped" in log
