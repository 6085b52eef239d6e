"""The driver's estimate of a call's resolution from its rate and the simulated call fabric's
negotiation use the same table: the import rule keeps drivers/ and simulators/ apart, so this test
(which may import both) keeps them in step."""

from __future__ import annotations

import pytest

from drivers import codec_common
from simulators import fabric


def test_driver_and_simulator_share_one_rate_to_resolution_table() -> None:
    assert codec_common.RATE_RESOLUTIONS == fabric.RATE_RESOLUTIONS
    assert codec_common.DEFAULT_HD_RATE == fabric.RATE_RESOLUTIONS[0][0]


@pytest.mark.parametrize("cap", ["1920x1080", "1280x720", fabric.SD_MAX_RESOLUTION])
@pytest.mark.parametrize("rate", [0, 64, 127, 128, 383, 384, 512, 767, 768, 1024, 1471, 1472, 4096])
def test_driver_and_simulator_pick_the_same_resolution(rate: int, cap: str) -> None:
    assert codec_common.resolution_for_rate(rate, cap) == fabric.resolution_for(rate, cap)
