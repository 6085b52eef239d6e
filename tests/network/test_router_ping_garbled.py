"""A ping reply that claims more echoes back than were sent is garbled: a ProtocolError, never a
negative loss."""

from __future__ import annotations

import pytest

from drivers.errors import ProtocolError
from drivers.roles import Endpoint
from drivers.routers import CiscoIosRouterDriver, HuaweiVrpRouterDriver


def test_more_received_than_sent_is_garbled() -> None:
    ep = Endpoint(transport="ssh", host="127.0.0.1")
    with pytest.raises(ProtocolError):
        CiscoIosRouterDriver(ep).parse_ping("10.0.0.1", 5, "Success rate is 100 percent (7/5)\n")
    with pytest.raises(ProtocolError):
        HuaweiVrpRouterDriver(ep).parse_ping(
            "10.0.0.1", 5, "5 packet(s) transmitted\n7 packet(s) received\n")
    ok = CiscoIosRouterDriver(ep).parse_ping("10.0.0.1", 5, "Success rate is 80 percent (4/5)\n")
    assert ok["loss"] == pytest.approx(0.2)
