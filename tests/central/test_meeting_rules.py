"""Booking rules over the real API (uvicorn, SQLite and PostgreSQL): meetings cannot collide unless
forced with an audited reason, end in the future, have two sites or more, use the organisation's
default bridge, and start by themselves when the setting or their flag says so."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.central.conftest import _serve
from tests.central.helpers import RunningServer, login, seed, wait_for
from tests.central.test_meetings import BRIDGE, meeting_body

DEFAULT_BRIDGE = "sip:default-mcu@bridge.roomops.test"


def at(hours: float) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()


def booking(sites: tuple[str, ...], start: float, hours: float = 1.0, **extra: Any) -> dict[str, Any]:
    body = meeting_body(sites=sites, **{"host_site": sites[0], **extra})
    body.update(start=at(start), end=at(start + hours))
    return body


async def create(http: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any]) -> httpx.Response:
    return await http.post("/api/v1/meetings", headers=headers, json=body)


async def test_an_overlapping_booking_is_refused_naming_the_other_meeting(
        any_db_server: RunningServer) -> None:
    seed(any_db_server.engine)
    async with httpx.AsyncClient(base_url=any_db_server.base_url, timeout=10) as http:
        sec = await login(http, "secretariat")
        everyone = ("shanghai", "urumqi", "lhasa", "guangzhou", "kunming", "xining")
        six = await create(http, sec, booking(everyone, 1, 2, title="六地例会"))
        assert six.status_code == 201, six.text
        six_id = six.json()["id"]

        three = booking(("shanghai", "lhasa", "xining"), 2, 1, title="三地协调会")
        refused = await create(http, sec, three)
        assert refused.status_code == 409, refused.text
        detail = refused.json()
        assert detail["code"] == "meeting_conflict" and "六地例会" in detail["detail"]
        [conflict] = detail["conflicts"]
        assert conflict["id"] == six_id and conflict["title"] == "六地例会"
        assert sorted(conflict["sites"]) == ["lhasa", "shanghai", "xining"]

        # right after the other one ends is no conflict; neither are other sites at the same time
        after = await create(http, sec, booking(("shanghai", "lhasa"), 3, 1, title="later"))
        assert after.status_code == 201, after.text
        assert (await create(http, sec, booking(("urumqi", "kunming"), 2.5, 1))).status_code == 409

        # an edit does not collide with the meeting itself, but does with others
        own = await http.patch(f"/api/v1/meetings/{six_id}", headers=sec,
                               json={"end": at(2.9), "title": "六地例会（改）"})
        assert own.status_code == 200, own.text
        later_id = after.json()["id"]
        clash = await http.patch(f"/api/v1/meetings/{later_id}", headers=sec, json={"start": at(2.5)})
        assert clash.status_code == 409 and clash.json()["code"] == "meeting_conflict"

        # forcing needs a reason; with one it is booked and audited
        no_reason = await create(http, sec, {**three, "force": True})
        assert no_reason.status_code == 422 and "reason" in no_reason.json()["detail"]
        forced = await create(http, sec, {**three, "force": True, "force_reason": "主任要求同时召开"})
        assert forced.status_code == 201, forced.text
        forced_id = forced.json()["id"]
        body = (await http.get(f"/api/v1/meetings/{forced_id}", headers=sec)).json()
        assert body["override_reason"] == "主任要求同时召开"

        audit = (await http.get("/api/v1/audit", headers=sec, params={"actor": "secretariat"})).json()
        [override] = [a for a in audit if a["action"] == "meeting.conflict_override"]
        assert override["target"] == forced_id and override["detail"]["reason"] == "主任要求同时召开"
        assert [c["id"] for c in override["detail"]["conflicts"]] == [six_id]



async def test_meetings_end_in_the_future_and_have_two_sites(server: RunningServer) -> None:
    seed(server.engine)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
        sec = await login(http, "secretariat")
        past = await create(http, sec, booking(("shanghai", "lhasa"), -3, 1))
        assert past.status_code == 422 and "end in the future" in past.json()["detail"]
        one = await create(http, sec, booking(("shanghai",), 1))
        assert one.status_code == 422 and "at least two sites" in one.json()["detail"]
        host_only = await create(http, sec, booking(("shanghai",), 1, host_site="lhasa"))
        assert host_only.status_code == 201, host_only.text     # a host and one other site
        # already begun but not over: accepted (a meeting booked late)
        assert (await create(http, sec, booking(("urumqi", "kunming"), -0.5, 1))).status_code == 201


@pytest.fixture
def default_bridge_server(tmp_path: Path, loopback: str) -> Iterator[RunningServer]:
    yield from _serve(tmp_path, loopback, default_bridge_uri=DEFAULT_BRIDGE)


async def test_a_bridge_meeting_without_bridge_uri_dials_the_default_bridge(
        default_bridge_server: RunningServer) -> None:
    seed(default_bridge_server.engine)
    async with httpx.AsyncClient(base_url=default_bridge_server.base_url, timeout=10) as http:
        sec = await login(http, "secretariat")
        settings = (await http.get("/api/v1/meetings/settings", headers=sec)).json()
        assert settings == {"default_bridge_uri": DEFAULT_BRIDGE, "auto_start": False}
        body = booking(("shanghai", "lhasa"), 1)
        del body["bridge_uri"]
        created = await create(http, sec, body)
        assert created.status_code == 201, created.text
        row = (await http.get(f"/api/v1/meetings/{created.json()['id']}", headers=sec)).json()
        assert row["bridge_uri"] == DEFAULT_BRIDGE
        own = await create(http, sec, booking(("urumqi", "xining"), 1))
        own_row = (await http.get(f"/api/v1/meetings/{own.json()['id']}", headers=sec)).json()
        assert own_row["bridge_uri"] == BRIDGE


async def test_without_a_default_bridge_the_bridge_uri_is_needed(server: RunningServer) -> None:
    seed(server.engine)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
        sec = await login(http, "secretariat")
        assert (await http.get("/api/v1/meetings/settings", headers=sec)).json()["default_bridge_uri"] is None
        body = booking(("shanghai", "lhasa"), 1)
        del body["bridge_uri"]
        refused = await create(http, sec, body)
        assert refused.status_code == 422 and "default_bridge_uri" in refused.json()["detail"]


async def meeting_state(http: httpx.AsyncClient, sec: dict[str, str], meeting_id: str) -> str:
    return (await http.get(f"/api/v1/meetings/{meeting_id}", headers=sec)).json()["state"]


async def test_a_meeting_flagged_auto_start_starts_by_itself(server: RunningServer) -> None:
    seed(server.engine)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
        sec = await login(http, "secretariat")
        flagged = await create(http, sec, booking(("shanghai", "lhasa"), -0.01, 1, auto_start=True))
        plain = await create(http, sec, booking(("urumqi", "kunming"), -0.01, 1))
        later = await create(http, sec, booking(("guangzhou", "xining"), 1, 1, auto_start=True))
        flagged_id, plain_id, later_id = (r.json()["id"] for r in (flagged, plain, later))

        async def started() -> bool:
            return await meeting_state(http, sec, flagged_id) == "started"

        await wait_for(started, timeout=20, what="the flagged meeting started by itself")
        body = (await http.get(f"/api/v1/meetings/{flagged_id}", headers=sec)).json()
        assert body["started_by"] == "system:auto-start" and body["auto_start"] is True
        assert {s["call_state"] for s in body["sites"]} == {"preparing"}
        assert await meeting_state(http, sec, plain_id) == "scheduled"     # the organisation default: off
        assert await meeting_state(http, sec, later_id) == "scheduled"     # not yet its time
        audit = (await http.get("/api/v1/audit", headers=sec, params={"actor": "system:auto-start"})).json()
        assert [(a["action"], a["target"], a["outcome"]) for a in audit] == [
            ("meeting.start", flagged_id, "succeeded")]


@pytest.fixture
def auto_start_server(tmp_path: Path, loopback: str) -> Iterator[RunningServer]:
    yield from _serve(tmp_path, loopback, auto_start_meetings=True)


async def test_the_organisation_setting_starts_meetings_unless_one_says_no(
        auto_start_server: RunningServer) -> None:
    seed(auto_start_server.engine)
    async with httpx.AsyncClient(base_url=auto_start_server.base_url, timeout=10) as http:
        sec = await login(http, "secretariat")
        assert (await http.get("/api/v1/meetings/settings", headers=sec)).json()["auto_start"] is True
        plain = (await create(http, sec, booking(("shanghai", "lhasa"), -0.01, 1))).json()["id"]
        manual_body = booking(("urumqi", "kunming"), -0.01, 1, auto_start=False)
        manual = (await create(http, sec, manual_body)).json()["id"]

        async def started() -> bool:
            return await meeting_state(http, sec, plain) == "started"

        await wait_for(started, timeout=20, what="the meeting started by the organisation setting")
        assert await meeting_state(http, sec, manual) == "scheduled"


async def test_a_start_while_a_site_is_still_in_another_meeting_needs_a_reason(server: RunningServer) -> None:
    seed(server.engine)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
        sec = await login(http, "secretariat")
        first = (await create(http, sec, booking(("shanghai", "lhasa"), -0.5, 0.6))).json()["id"]
        second_body = booking(("lhasa", "xining"), 0.2, 1, host_site="lhasa")
        second = (await create(http, sec, second_body)).json()["id"]
        assert (await http.post(f"/api/v1/meetings/{first}/start", headers=sec)).status_code == 202
        refused = await http.post(f"/api/v1/meetings/{second}/start", headers=sec)
        assert refused.status_code == 409, refused.text
        assert [c["id"] for c in refused.json()["conflicts"]] == [first]
        no_reason = await http.post(f"/api/v1/meetings/{second}/start", headers=sec, json={"force": True})
        assert no_reason.status_code == 409 and "reason" in no_reason.json()["detail"]
        forced = await http.post(f"/api/v1/meetings/{second}/start", headers=sec,
                                 json={"force": True, "reason": "first one ran long"})
        assert forced.status_code == 202, forced.text
        audit = (await http.get("/api/v1/audit", headers=sec, params={"actor": "secretariat"})).json()
        starts = [a for a in audit if a["action"] == "meeting.start" and a["target"] == second]
        assert {a["outcome"] for a in starts} == {"refused", "succeeded"}
        ok = next(a for a in starts if a["outcome"] == "succeeded")
        assert ok["detail"]["reason"] == "first one ran long"
