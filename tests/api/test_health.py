"""GET /api/health."""

from __future__ import annotations

from sanic_testing.testing import SanicASGITestClient

from service import __version__


async def test_health_reports_version_and_chain(client: SanicASGITestClient) -> None:
    _, response = await client.get("/api/health")
    assert response.status == 200
    assert response.json["status"] == "ok"
    assert response.json["version"] == __version__
    assert response.json["providers"] == ["file"]
    assert response.json["environment"] == "development"
