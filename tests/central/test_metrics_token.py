"""``/metrics`` behind the optional scrape token (ROOMOPS_METRICS_TOKEN)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from central.settings import Settings
from tests.central.conftest import _serve
from tests.central.helpers import RunningServer


@pytest.fixture
def guarded(tmp_path: Path, loopback: str) -> Iterator[RunningServer]:
    yield from _serve(tmp_path, loopback, metrics_token="scrape-me-7f3a")


def test_metrics_need_the_token_when_one_is_set(guarded: RunningServer) -> None:
    with httpx.Client(base_url=guarded.base_url, timeout=10) as http:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic scrape-me-7f3a"}):
            refused = http.get("/metrics", headers=headers)
            assert refused.status_code == 401, headers
            assert refused.headers["www-authenticate"] == "Bearer"
            assert "roomops_" not in refused.text
        ok = http.get("/metrics", headers={"Authorization": "Bearer scrape-me-7f3a"})
        assert ok.status_code == 200 and "roomops_connected_agents 0" in ok.text
        assert http.get("/healthz").status_code == 200          # liveness stays open
        assert "401" in http.get("/openapi.json").json()["paths"]["/metrics"]["get"]["responses"]


def test_metrics_open_without_a_token(server: RunningServer) -> None:
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        assert http.get("/metrics").status_code == 200


def test_token_comes_from_the_environment() -> None:
    settings = Settings.from_env({"ROOMOPS_METRICS_TOKEN": "abc"})
    assert settings.metrics_token.get_secret_value() == "abc"
    assert "abc" not in repr(settings)
