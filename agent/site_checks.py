"""Checks that belong to the site rather than one device: uplink against the site's minimum,
clock in sync, recording space. Each is a factory returning a ``SiteCheck`` for the runner."""

from __future__ import annotations

import asyncio
import re
import socket
import struct
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from agent.selftest import REACHABLE, UPLINK_CHECK, RunState, SiteCheck, evidence_of, skipped
from agent.session import failure_text
from contracts.messages import CheckResult
from drivers.errors import DeviceError
from drivers.roles import Identity, Recorder

UplinkProbe = Callable[[], Awaitable[dict[str, Any]]]
OffsetSource = Callable[[], float | None]     # seconds our clock is ahead of the reference, or None

_NTP_EPOCH = 2208988800  # seconds from 1900-01-01 to 1970-01-01


def _named(name: str, fn: SiteCheck) -> SiteCheck:
    fn.check_name = name  # type: ignore[attr-defined]
    return fn


def _took(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)


# -- uplink --------------------------------------------------------------------------------------------
def uplink_check(probe: UplinkProbe | None, timeout: float = 30.0) -> SiteCheck:
    """Measured uplink (``up_mbps``) must reach the site's ``uplink_min_mbps``."""

    async def check(state: RunState) -> list[CheckResult]:
        site = state.site
        if probe is None:
            return [skipped(site.id, UPLINK_CHECK, "no uplink measurement available on this agent")]
        started = time.monotonic()
        try:
            measured = await asyncio.wait_for(probe(), timeout)
        except TimeoutError:
            return [CheckResult(device=site.id, name=UPLINK_CHECK, status="fail",
                                reason=f"uplink measurement gave no result within {timeout:.0f}s",
                                duration_ms=_took(started))]
        except (OSError, DeviceError) as exc:
            return [CheckResult(device=site.id, name=UPLINK_CHECK, status="fail",
                                reason=f"uplink measurement failed: {exc}", duration_ms=_took(started))]
        up = float(measured.get("up_mbps") or 0.0)
        minimum = site.uplink_min_mbps
        status, reason = "pass", ""
        if minimum and up < minimum:
            status, reason = "fail", f"uplink {up:.1f} Mbit/s is below the site minimum {minimum:.1f}"
        return [CheckResult(device=site.id, name=UPLINK_CHECK, status=status, reason=reason,
                            measured={**measured, "minimum_mbps": minimum}, duration_ms=_took(started))]

    return _named(UPLINK_CHECK, check)


# -- time ----------------------------------------------------------------------------------------------
def sntp_offset(server: str, timeout: float = 2.0) -> float:
    """Our clock minus the server's, in seconds (RFC 4330 client, one request)."""
    host, _, port = server.partition(":")
    packet = bytearray(48)
    packet[0] = 0x1B  # LI 0, version 3, mode 3 (client)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        t0 = time.time()
        sock.sendto(bytes(packet), (host, int(port or 123)))
        data, _ = sock.recvfrom(512)
        t3 = time.time()
    if len(data) < 48 or (data[0] & 0x07) != 4:
        raise OSError(f"not an SNTP server reply from {server}")
    t1 = _ntp_time(data, 32)
    t2 = _ntp_time(data, 40)
    return ((t0 - t1) + (t3 - t2)) / 2


def _ntp_time(data: bytes, offset: int) -> float:
    seconds, fraction = struct.unpack("!II", data[offset:offset + 8])
    return seconds - _NTP_EPOCH + fraction / 2**32


def time_sync_check(fallback: OffsetSource | None = None) -> SiteCheck:
    """The agent's clock within ``max_clock_offset`` of the site's NTP server (or of central's
    clock as seen on the link when no NTP server is configured)."""

    async def check(state: RunState) -> list[CheckResult]:
        site = state.site
        started = time.monotonic()
        source = ""
        offset: float | None = None
        if site.ntp_server:
            source = f"ntp {site.ntp_server}"
            try:
                offset = await asyncio.to_thread(sntp_offset, site.ntp_server)
            except OSError as exc:
                return [CheckResult(device=site.id, name="site.time", status="fail",
                                    reason=f"time server {site.ntp_server} did not answer: {exc}",
                                    duration_ms=_took(started))]
        elif fallback is not None:
            source = "central"
            offset = fallback()
        if offset is None:
            return [skipped(site.id, "site.time", "no reference clock: no NTP server and no link to central")]
        measured = {"offset_s": round(offset, 3), "source": source}
        if abs(offset) > site.max_clock_offset:
            return [CheckResult(device=site.id, name="site.time", status="fail", measured=measured,
                                reason=f"clock off by {offset:+.1f}s (limit {site.max_clock_offset:.1f}s)",
                                duration_ms=_took(started))]
        return [CheckResult(device=site.id, name="site.time", status="pass", measured=measured,
                            duration_ms=_took(started))]

    return _named("site.time", check)


# -- recording space ---------------------------------------------------------------------------------
def _free_percent(status: dict[str, Any]) -> float | None:
    for key in ("free_percent", "disk_free_percent"):
        if key in status:
            return float(status[key])
    free, total = status.get("free_bytes"), status.get("total_bytes")
    if free is not None and total:
        return 100.0 * float(free) / float(total)
    return None


def recording_space_check(timeout: float = 5.0) -> SiteCheck:
    """Every recorder reports at least ``min_recording_free_percent`` free."""

    async def check(state: RunState) -> list[CheckResult]:
        site = state.site
        out: list[CheckResult] = []
        for dev in site.with_role("recorder"):
            session = state.sessions.get(dev.id)
            if session is None:
                continue
            reach = await state.result_of(dev.id, REACHABLE)
            if reach is not None and reach.status != "pass":
                out.append(skipped(dev.id, "recording.space", f"recorder not reachable: {reach.reason}"))
                continue
            started = time.monotonic()
            try:
                status = await session.call_role(Recorder, lambda d: d.record_status(), timeout, force=True)
            except DeviceError as exc:
                out.append(CheckResult(device=dev.id, name="recording.space", status="fail",
                                       reason=failure_text(exc), duration_ms=_took(started),
                                       evidence=evidence_of(session, exc)))
                continue
            free = _free_percent(status)
            if free is None and status.get("free_kb") is not None:
                # Extron SMP: free KB without a total, so no share to judge here; the recorder's own
                # recorder.ready check compares the figure with its model's min_free_kb.
                out.append(CheckResult(device=dev.id, name="recording.space", status="skip",
                                       reason="recorder reports free KB only, judged by recorder.ready",
                                       measured={"free_kb": str(status["free_kb"])},
                                       duration_ms=_took(started)))
                continue
            if free is None:
                out.append(CheckResult(device=dev.id, name="recording.space", status="warn",
                                       reason="recorder reports no free-space figure",
                                       measured={k: str(v) for k, v in status.items()},
                                       duration_ms=_took(started)))
                continue
            ok = free >= site.min_recording_free_percent
            out.append(CheckResult(
                device=dev.id, name="recording.space", status="pass" if ok else "fail",
                reason="" if ok else f"{free:.0f}% free, below {site.min_recording_free_percent:.0f}%",
                measured={"free_percent": round(free, 1)}, duration_ms=_took(started)))
        return out

    return _named("recording.space", check)


# -- identity ------------------------------------------------------------------------------------------
IDENTITY_CHECK = "identity"
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")
#: what a driver reports for a model code it has no name for (VISCA "0x040E"): nothing to compare
_UNNAMED_MODEL = re.compile(r"^0x[0-9a-f]+$", re.IGNORECASE)


def _squash(text: str) -> str:
    return _NOT_ALNUM.sub("", text.lower())


def identity_differences(expected: Mapping[str, str], found: Identity) -> list[str]:
    """What the unit reports that is not what the profile says, as far as its protocol tells:
    the serial number, the model (names compared without case and punctuation, and a reported
    name that contains the profile's, or the other way round, is the same model: "Webex Room Kit"
    and "Room Kit"), the firmware when the profile names one."""
    out = []
    want, got = str(expected.get("serial") or "").strip(), str(found.serial or "").strip()
    if want and got and want.lower() != got.lower():
        out.append(f"expected serial {want!r}, found {got!r}")
    want, got = str(expected.get("model") or "").strip(), str(found.model or "").strip()
    if want and got and not _UNNAMED_MODEL.match(got):
        a, b = _squash(want), _squash(got)
        if a and b and a not in b and b not in a:
            out.append(f"expected model {want!r}, found {got!r}")
    want, got = str(expected.get("firmware") or "").strip(), str(found.firmware or "").strip()
    if want and got and not got.lower().startswith(want.lower()):
        out.append(f"expected firmware {want!r}, found {got!r}")
    return out


def _compared(expected: Mapping[str, str], found: Identity) -> dict[str, Any]:
    return {key: {"expected": str(expected.get(key) or ""), "found": str(getattr(found, key) or "")}
            for key in ("model", "serial", "firmware")}


def identity_check() -> SiteCheck:
    """Each reachable device is the one its profile describes (model, serial, firmware, as far as
    its protocol reports them); a mismatch fails "wrong device at <address>"."""

    async def check(state: RunState) -> list[CheckResult]:
        out: list[CheckResult] = []
        for dev in state.site.devices:
            if dev.id not in state.sessions or (dev.id, REACHABLE) not in state.results:
                continue
            reach = await state.result_of(dev.id, REACHABLE)
            found = state.identities.get(dev.id)
            if reach is None or reach.status != "pass" or found is None:
                why = reach.reason if reach is not None and reach.reason else "not reachable"
                out.append(skipped(dev.id, IDENTITY_CHECK, f"device not reachable: {why}"))
                continue
            measured = _compared(dev.identity, found)
            if not any(v["expected"] and v["found"] for v in measured.values()):
                out.append(CheckResult(device=dev.id, name=IDENTITY_CHECK, status="skip", measured=measured,
                                       reason="nothing to compare: the profile or the unit names no model, "
                                              "serial or firmware"))
                continue
            wrong = identity_differences(dev.identity, found)
            if wrong:
                out.append(CheckResult(device=dev.id, name=IDENTITY_CHECK, status="fail", measured=measured,
                                       reason=f"wrong device at {dev.address()}: " + "; ".join(wrong)))
            else:
                out.append(CheckResult(device=dev.id, name=IDENTITY_CHECK, status="pass", measured=measured))
        return out

    return _named(IDENTITY_CHECK, check)


def default_site_checks(uplink: UplinkProbe | None = None, clock_offset: OffsetSource | None = None
                        ) -> list[SiteCheck]:
    return [identity_check(), uplink_check(uplink), time_sync_check(clock_offset), recording_space_check()]
