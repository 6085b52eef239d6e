"""An admin edits and retires sites: values are checked at the door, every change is audited with
before and after, a retired site's agent cannot link, and its history stays in the reports."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.central.helpers import PASSWORD, RunningServer, Seeded


@pytest.fixture
def http(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        yield client


def bearer(http: httpx.Client, user: str) -> dict[str, str]:
    response = http.post("/api/v1/auth/token", data={"username": user, "password": PASSWORD})
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def audit_of(http: httpx.Client, headers: dict[str, str], action: str) -> list[dict[str, Any]]:
    return [a for a in http.get("/api/v1/audit", headers=headers).json() if a["action"] == action]


@pytest.mark.parametrize("body", [
    {"id": "mars", "timezone": "Mars/Olympus_Mons"}, {"id": "mars", "timezone": "../../../etc/passwd"},
    {"id": "mars", "multisite_capacity": 4 * 10**26}, {"id": "mars", "multisite_capacity": 0},
    {"id": "mars", "name": "Mars\u0007"}, {"id": "Mars"}, {"id": "mars", "codec_uri": "sip:a b"},
    {"id": "mars", "name": "x" * 201},
])
def test_bad_site_values_are_422_and_nothing_is_stored(server: RunningServer, seeded: Seeded,
                                                       http: httpx.Client, body: dict[str, Any]) -> None:
    admin = bearer(http, "admin")
    refused = http.post("/api/v1/sites", json=body, headers=admin)
    assert refused.status_code == 422, refused.text
    assert http.get("/api/v1/sites/mars", headers=admin).status_code == 404


def test_a_lone_surrogate_in_a_name_is_422(server: RunningServer, seeded: Seeded, http: httpx.Client) -> None:
    admin = bearer(http, "admin") | {"Content-Type": "application/json"}
    refused = http.post("/api/v1/sites", content=b'{"id": "mars", "name": "M\\ud800rs"}', headers=admin)
    assert refused.status_code == 422, refused.text
    renamed = http.patch("/api/v1/sites/urumqi", content=b'{"name_zh": "\\udfff"}', headers=admin)
    assert renamed.status_code == 422, renamed.text


def test_an_admin_edits_a_site_and_the_audit_keeps_before_and_after(server: RunningServer, seeded: Seeded,
                                                                     http: httpx.Client) -> None:
    admin = bearer(http, "admin")
    edited = http.patch("/api/v1/sites/urumqi", headers=admin, json={
        "name": "Urumqi Office", "timezone": "Asia/Urumqi", "multisite_capacity": 4})
    assert edited.status_code == 200, edited.text
    body = edited.json()
    assert (body["name"], body["timezone"], body["multisite_capacity"]) == ("Urumqi Office", "Asia/Urumqi", 4)
    assert http.get("/api/v1/sites/urumqi", headers=admin).json()["timezone"] == "Asia/Urumqi"
    [entry] = audit_of(http, admin, "site.edit")
    assert entry["actor"] == "admin" and entry["target"] == "urumqi"
    assert entry["detail"]["changes"]["timezone"] == {"before": "Asia/Shanghai", "after": "Asia/Urumqi"}
    cleared = http.patch("/api/v1/sites/urumqi", headers=admin, json={"multisite_capacity": None})
    assert cleared.status_code == 200 and cleared.json()["multisite_capacity"] is None
    for bad in ({}, {"timezone": "Mars/Olympus_Mons"}, {"name": None}, {"id": "other"}):
        assert http.patch("/api/v1/sites/urumqi", headers=admin, json=bad).status_code == 422, bad
    assert http.patch("/api/v1/sites/nowhere", headers=admin, json={"name": "x"}).status_code == 404
    engineer = bearer(http, "engineer")
    assert http.patch("/api/v1/sites/urumqi", headers=engineer, json={"name": "x"}).status_code == 403


async def test_a_retired_site_cannot_link_and_stays_in_reports(server: RunningServer, seeded: Seeded) -> None:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        token = await http.post("/api/v1/auth/token", data={"username": "admin", "password": PASSWORD})
        admin = {"Authorization": f"Bearer {token.json()['access_token']}"}
        assert (await http.post("/api/v1/sites/lhasa/retire", headers=admin, json={})).status_code == 422
        retired = await http.post("/api/v1/sites/lhasa/retire", headers=admin,
                                  json={"reason": "the office moved into Lhasa HQ"})
        assert retired.status_code == 200, retired.text
        assert retired.json()["retired_at"] and retired.json()["retired_by"] == "admin"
        again = await http.post("/api/v1/sites/lhasa/retire", headers=admin, json={"reason": "again"})
        assert again.status_code == 409
        assert (await http.post("/api/v1/sites/lhasa/tokens", headers=admin)).status_code == 409
        assert (await http.patch("/api/v1/sites/lhasa", headers=admin, json={"name": "x"})).status_code == 409
        with pytest.raises(InvalidStatus) as refused:
            async with connect(server.ws_url, additional_headers={
                    "Authorization": f"Bearer {seeded.tokens['lhasa']}"}):
                pass
        assert refused.value.response.status_code in (401, 403)
        active = {s["id"] for s in (await http.get("/api/v1/sites", headers=admin)).json()}
        every = {s["id"] for s in (await http.get("/api/v1/sites", headers=admin,
                                                  params={"include_retired": True})).json()}
        assert "lhasa" not in active and "lhasa" in every
        assert (await http.get("/api/v1/sites/lhasa", headers=admin)).status_code == 200   # history readable
        annual = await http.get("/api/v1/reports/annual", headers=admin, params={"format": "csv"})
        assert annual.status_code == 200 and "lhasa" in annual.text.lower()
        entries = [a for a in (await http.get("/api/v1/audit", headers=admin)).json()
                   if a["action"] == "site.retire"]
        assert entries[0]["detail"]["reason"] == "the office moved into Lhasa HQ"
        assert entries[0]["detail"]["tokens_revoked"]
