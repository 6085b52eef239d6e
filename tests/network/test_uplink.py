"""Uplink measurement against a real HTTP server on a loopback address."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from agent.uplink import UplinkMeter, UplinkSettings, mbps, measure_uplink
from tests.network.uplink_server import UplinkHttpServer, serve_uplink

TOKEN = "site-token-urumqi-0123456789"
SMALL = UplinkSettings(probes=5, probe_timeout=1.0, download_bytes=256 * 1024, upload_bytes=128 * 1024,
                       transfer_timeout=10.0)


@pytest.fixture
def central(loopback: str) -> Iterator[UplinkHttpServer]:
    with serve_uplink(loopback, TOKEN) as server:
        yield server


def test_mbps_is_megabits() -> None:
    assert mbps(1_000_000, 1.0) == 8.0
    assert mbps(125_000, 0.5) == 2.0


def test_full_measurement(central: UplinkHttpServer) -> None:
    result = UplinkMeter(central.base_url, TOKEN, SMALL).measure()
    assert result.ok, result.errors
    assert result.loss == 0.0 and result.probes == 5
    assert result.rtt_ms is not None and 0 < result.rtt_min_ms <= result.rtt_ms <= result.rtt_max_ms
    assert result.down_mbps and result.down_mbps > 0
    assert result.up_mbps and result.up_mbps > 0
    summary = result.summary()
    assert set(summary) == {"rtt_ms", "loss", "up_mbps", "down_mbps", "measured_at"}
    assert summary["measured_at"].endswith("+00:00")
    assert central.state.probes_seen == 5


def test_lost_probes_become_loss(central: UplinkHttpServer) -> None:
    central.state.lost_probes = {1, 3}
    result = UplinkMeter(central.base_url, TOKEN, SMALL).measure()
    assert result.loss == pytest.approx(0.4)
    assert result.rtt_ms is not None
    assert "rtt" not in result.errors


def test_all_probes_lost(central: UplinkHttpServer) -> None:
    central.state.lost_probes = set(range(5))
    result = UplinkMeter(central.base_url, TOKEN, UplinkSettings(probes=5, download_bytes=0,
                                                                 upload_bytes=0)).measure()
    assert result.loss == 1.0 and result.rtt_ms is None
    assert result.errors == {"rtt": "all_probes_lost"}


def test_paced_download_is_not_faster_than_the_link(central: UplinkHttpServer) -> None:
    rate = 2_000_000  # bytes per second = 16 Mbit/s
    central.state.download_rate_bps = rate
    down = UplinkMeter(central.base_url, TOKEN, SMALL).download(400_000)
    # Physically bounded by the pacing (a bits/bytes mix-up would read 8x too high).
    assert 0 < down <= mbps(rate, 1.0) * 1.25


def test_wrong_token_is_auth_failed(central: UplinkHttpServer) -> None:
    result = UplinkMeter(central.base_url, "wrong", SMALL).measure()
    assert result.errors == {"rtt": "auth_failed"}
    assert result.up_mbps is None and result.down_mbps is None


def test_miscounted_upload_is_bad_reply(central: UplinkHttpServer) -> None:
    central.state.miscount_upload = True
    result = UplinkMeter(central.base_url, TOKEN, SMALL).measure()
    assert result.errors == {"upload": "bad_reply"}
    assert result.down_mbps is not None


def test_central_unreachable(loopback: str) -> None:
    with socket.socket() as s:      # a port nobody listens on
        s.bind((loopback, 0))
        port = s.getsockname()[1]
    result = measure_uplink(f"http://{loopback}:{port}", TOKEN,
                            UplinkSettings(probes=2, probe_timeout=0.5, download_bytes=1000,
                                           upload_bytes=1000, transfer_timeout=1.0))
    assert result.loss == 1.0
    assert result.errors == {"rtt": "all_probes_lost", "download": "connect_failed",
                             "upload": "connect_failed"}


def test_token_never_in_repr_or_result(central: UplinkHttpServer) -> None:
    meter = UplinkMeter(central.base_url, TOKEN, SMALL)
    assert TOKEN not in repr(meter)
    assert TOKEN not in repr(meter.measure().as_dict())


def test_settings_are_bounded() -> None:
    with pytest.raises(ValueError):
        UplinkSettings(download_bytes=51 * 1024 * 1024)
    with pytest.raises(ValueError):
        UplinkSettings(probes=0)
