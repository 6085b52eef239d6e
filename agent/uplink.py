"""Measure a site's uplink to central: round-trip time, loss, upload and download throughput.

Branch offices sit behind uneven uplinks; this is how a site learns what its link gives right
now, over HTTP to the endpoints central serves (agreed with the central issue)::

    GET  /api/v1/uplink/ping             -> 204          (RTT probe; a failed probe counts as lost)
    GET  /api/v1/uplink/download?bytes=N -> N bytes      (capped by central at 50 MB)
    POST /api/v1/uplink/upload           -> {"bytes": N} (body discarded)

each with ``Authorization: Bearer <site token>``. The result is plain data
(``UplinkResult.as_dict()``: ``rtt_ms``, ``loss``, ``up_mbps``, ``down_mbps``, ``measured_at``)
that the agent reports in its status and central shows per site in the annual report.

A measurement never raises for a network problem: what could not be measured is ``None`` and
``errors`` says why (``auth_failed``, ``timeout``, ``connect_failed``, ``bad_reply``...).
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

PING_PATH = "/api/v1/uplink/ping"
DOWNLOAD_PATH = "/api/v1/uplink/download"
UPLOAD_PATH = "/api/v1/uplink/upload"
MAX_TRANSFER_BYTES = 50 * 1024 * 1024   # central refuses more; ask for no more than that


@dataclass(frozen=True)
class UplinkSettings:
    probes: int = 5                      # RTT probes; loss = failed share
    probe_timeout: float = 2.0           # seconds before a probe counts as lost
    download_bytes: int = 2 * 1024 * 1024
    upload_bytes: int = 1024 * 1024
    transfer_timeout: float = 30.0       # seconds for each throughput transfer

    def __post_init__(self) -> None:
        if self.probes < 1:
            raise ValueError("probes must be at least 1")
        for name in ("download_bytes", "upload_bytes"):
            value = getattr(self, name)
            if not 0 <= value <= MAX_TRANSFER_BYTES:
                raise ValueError(f"{name} must be between 0 and {MAX_TRANSFER_BYTES}")


@dataclass
class UplinkResult:
    measured_at: str                         # ISO 8601, UTC
    rtt_ms: float | None = None              # median of the answered probes
    rtt_min_ms: float | None = None
    rtt_max_ms: float | None = None
    jitter_ms: float | None = None           # mean absolute difference of consecutive RTTs
    loss: float | None = None                # 0..1, share of probes without an answer
    up_mbps: float | None = None             # megabits per second
    down_mbps: float | None = None
    probes: int = 0
    errors: dict[str, str] = field(default_factory=dict)   # part -> reason

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> dict[str, Any]:
        """The four figures the agent reports in its status message, plus the time."""
        return {"rtt_ms": self.rtt_ms, "loss": self.loss, "up_mbps": self.up_mbps,
                "down_mbps": self.down_mbps, "measured_at": self.measured_at}


class UplinkError(Exception):
    """One part of the measurement failed; ``reason`` is a short machine-friendly word."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


def mbps(nbytes: int, seconds: float) -> float:
    """Megabits per second (10^6 bits), the unit uplinks are sold in."""
    return nbytes * 8 / seconds / 1e6 if seconds > 0 else float("inf")


class UplinkMeter:
    """Measures the uplink to one central server with one site token."""

    def __init__(self, base_url: str, token: str, settings: UplinkSettings | None = None, *,
                 transport: httpx.BaseTransport | None = None, verify: bool | str = True) -> None:
        self.base_url = base_url.rstrip("/")
        self.settings = settings or UplinkSettings()
        self._token = token
        self._transport = transport
        self._verify = verify

    def __repr__(self) -> str:  # never show the token
        return f"<UplinkMeter {self.base_url}>"

    def _client(self, timeout: float) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=timeout, transport=self._transport,
                            verify=self._verify, headers={"Authorization": f"Bearer {self._token}"})

    # the whole measurement ---------------------------------------------------------------------
    def measure(self) -> UplinkResult:
        result = UplinkResult(measured_at=datetime.now(UTC).isoformat(timespec="seconds"))
        s = self.settings
        try:
            rtts = self.probe_rtts()
        except UplinkError as exc:
            result.errors["rtt"] = exc.reason
        else:
            result.probes = s.probes
            result.loss = round(1 - len(rtts) / s.probes, 4)
            if rtts:
                result.rtt_ms = round(statistics.median(rtts), 3)
                result.rtt_min_ms = round(min(rtts), 3)
                result.rtt_max_ms = round(max(rtts), 3)
                steps = [abs(b - a) for a, b in zip(rtts, rtts[1:], strict=False)]
                result.jitter_ms = round(statistics.fmean(steps), 3) if steps else 0.0
            else:
                result.errors["rtt"] = "all_probes_lost"
        if "auth_failed" in result.errors.values():
            return result   # the token is wrong: transfers would fail the same way
        if s.download_bytes:
            try:
                result.down_mbps = round(self.download(s.download_bytes), 3)
            except UplinkError as exc:
                result.errors["download"] = exc.reason
        if s.upload_bytes:
            try:
                result.up_mbps = round(self.upload(s.upload_bytes), 3)
            except UplinkError as exc:
                result.errors["upload"] = exc.reason
        return result

    # parts -------------------------------------------------------------------------------------
    def probe_rtts(self) -> list[float]:
        """Round-trip times in ms of the answered probes (lost ones are left out).

        Raises ``UplinkError`` only for a refused token: a lost probe is a measurement."""
        rtts: list[float] = []
        with self._client(self.settings.probe_timeout) as client:
            for _ in range(self.settings.probes):
                started = time.perf_counter()
                try:
                    reply = client.get(PING_PATH)
                except httpx.HTTPError:
                    continue   # timed out, refused or reset: this probe is lost
                elapsed = (time.perf_counter() - started) * 1000
                _raise_for_auth(reply)
                if reply.status_code == 204:
                    rtts.append(elapsed)
        return rtts

    def download(self, nbytes: int) -> float:
        """Download ``nbytes`` and return megabits per second, timed from the first byte of the
        reply to the last (the request's round trip is measured by the probes)."""
        with self._client(self.settings.transfer_timeout) as client:
            try:
                with client.stream("GET", DOWNLOAD_PATH, params={"bytes": nbytes}) as reply:
                    _raise_for_auth(reply)
                    if reply.status_code != 200:
                        raise UplinkError("bad_reply", f"download answered {reply.status_code}")
                    received = 0
                    first: float | None = None
                    for chunk in reply.iter_raw():
                        if first is None:
                            first = time.perf_counter()
                        received += len(chunk)
                    ended = time.perf_counter()
            except httpx.TimeoutException as exc:
                raise UplinkError("timeout", str(exc)) from exc
            except httpx.HTTPError as exc:
                raise UplinkError("connect_failed", str(exc)) from exc
        if received != nbytes or first is None:
            raise UplinkError("bad_reply", f"asked for {nbytes} bytes, got {received}")
        return mbps(received, ended - first)

    def upload(self, nbytes: int) -> float:
        """Upload ``nbytes`` of incompressible data; megabits per second over the whole POST."""
        payload = os.urandom(nbytes)
        with self._client(self.settings.transfer_timeout) as client:
            started = time.perf_counter()
            try:
                reply = client.post(UPLOAD_PATH, content=payload,
                                    headers={"Content-Type": "application/octet-stream"})
            except httpx.TimeoutException as exc:
                raise UplinkError("timeout", str(exc)) from exc
            except httpx.HTTPError as exc:
                raise UplinkError("connect_failed", str(exc)) from exc
            elapsed = time.perf_counter() - started
        _raise_for_auth(reply)
        if reply.status_code != 200:
            raise UplinkError("bad_reply", f"upload answered {reply.status_code}")
        try:
            counted = int(reply.json()["bytes"])
        except (ValueError, KeyError, TypeError) as exc:
            raise UplinkError("bad_reply", "upload reply has no byte count") from exc
        if counted != nbytes:
            raise UplinkError("bad_reply", f"sent {nbytes} bytes, central counted {counted}")
        return mbps(nbytes, elapsed)


def _raise_for_auth(reply: httpx.Response) -> None:
    if reply.status_code in (401, 403):
        raise UplinkError("auth_failed", f"central answered {reply.status_code}")


def measure_uplink(base_url: str, token: str, settings: UplinkSettings | None = None) -> UplinkResult:
    """One measurement with default settings: the agent's job calls this on its worker thread."""
    return UplinkMeter(base_url, token, settings).measure()
