"""A device session in reconnect back-off reports the real cause first: fault records and the
dashboard show this text, and "backing off" tells an engineer nothing."""

from __future__ import annotations

import pytest

from agent.session import DeviceSession
from drivers.errors import ConnectError
from tests.agent.fakes import LineSimulator, device_spec


async def test_backoff_error_leads_with_the_last_real_failure(loopback: str) -> None:
    sim = LineSimulator(name="codec", serial="COD-1", host=loopback)
    with sim:
        spec = device_spec("testsite", "codec", sim, {"codec"})
        sim.set_fault("refuse")
        session = DeviceSession(spec)
        try:
            with pytest.raises(ConnectError) as first:
                await session.call(lambda d: d.identify(), timeout=5.0, retry=False)
            with pytest.raises(ConnectError) as during_backoff:
                await session.call(lambda d: d.identify(), timeout=5.0, retry=False)
            with pytest.raises(ConnectError) as again:
                await session.call(lambda d: d.identify(), timeout=5.0, retry=False)
        finally:
            await session.aclose()
    assert "refused" in str(first.value) or "failed" in str(first.value)
    message = during_backoff.value.message
    assert message.startswith(first.value.message), message
    assert "next reconnect in" in message
    # a refusal during back-off leads with the real failure, not the previous refusal's text
    assert again.value.message.count("next reconnect in") == 1, again.value.message
    assert again.value.message.startswith(first.value.message)


def test_failure_text_names_the_failure_class_once() -> None:
    from agent.session import failure_text
    from drivers.errors import CommandRejected, DeviceTimeout

    assert failure_text(CommandRejected("NetworkRejected", "not registered")) == (
        "rejected: NetworkRejected: not registered")
    assert failure_text(DeviceTimeout("no b'\\xff' within 2.0s")) == "timeout: no b'\\xff' within 2.0s"
