"""The uplink measurement endpoints, authenticated by the site's agent token."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from contracts.messages import Event
from tests.central.helpers import PASSWORD, FakeAgent, RunningServer, Seeded, login, wait_for


@pytest.fixture
def http(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        yield client


def test_ping_download_upload_with_site_token(server: RunningServer, seeded: Seeded,
                                              http: httpx.Client) -> None:
    auth = {"Authorization": f"Bearer {seeded.tokens['urumqi']}"}
    assert http.get("/api/v1/uplink/ping", headers=auth).status_code == 204
    download = http.get("/api/v1/uplink/download", params={"bytes": 300_000}, headers=auth)
    assert download.status_code == 200 and len(download.content) == 300_000
    assert http.get("/api/v1/uplink/download", params={"bytes": 0}, headers=auth).content == b""
    upload = http.post("/api/v1/uplink/upload", content=b"x" * 200_000, headers=auth)
    assert upload.json() == {"bytes": 200_000}


def test_uplink_limits_and_auth(server: RunningServer, seeded: Seeded, http: httpx.Client) -> None:
    auth = {"Authorization": f"Bearer {seeded.tokens['urumqi']}"}
    cap = server.settings.uplink_max_download_bytes
    too_big = http.get("/api/v1/uplink/download", params={"bytes": cap + 1}, headers=auth)
    assert too_big.status_code == 422 and str(cap) in too_big.json()["detail"]
    assert http.get("/api/v1/uplink/ping").status_code == 401
    user_token = http.post("/api/v1/auth/token", data={"username": "admin", "password": PASSWORD})
    as_user = {"Authorization": f"Bearer {user_token.json()['access_token']}"}
    assert http.get("/api/v1/uplink/ping", headers=as_user).status_code == 401


def test_upload_cap(tmp_path: object, loopback: str) -> None:
    from tests.central.helpers import central_settings, seed

    server = RunningServer(central_settings(tmp_path, uplink_max_upload_bytes=1000), loopback).start()
    try:
        token = seed(server.engine, ("urumqi",)).tokens["urumqi"]
        with httpx.Client(base_url=server.base_url) as client:
            response = client.post("/api/v1/uplink/upload", content=b"y" * 5000,
                                   headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 413 and "larger than 1000" in response.json()["detail"]
    finally:
        server.stop()


async def test_uplink_event_is_stored_per_site(server: RunningServer, seeded: Seeded) -> None:
    async with FakeAgent(server.ws_url, "lhasa", seeded.tokens["lhasa"]) as agent, \
            httpx.AsyncClient(base_url=server.base_url) as client:
        event = Event(site="lhasa", kind="uplink",
                      data={"rtt_ms": 88.5, "loss": 0.01, "up_mbps": 4.2, "down_mbps": 19.0})
        await agent.send(event)
        await agent.wait_acked(event.msg_id)
        headers = await login(client, "viewer")

        async def stored() -> list[dict[str, object]]:
            return (await client.get("/api/v1/sites/lhasa/uplink", headers=headers)).json()

        [row] = await wait_for(stored, what="uplink row")
        assert (row["rtt_ms"], row["loss"], row["up_mbps"], row["down_mbps"], row["source"]) == (
            88.5, 0.01, 4.2, 19.0, "event")
        assert (await client.get("/api/v1/sites/urumqi/uplink", headers=headers)).json() == []
