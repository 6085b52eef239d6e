"""Serve a simulated device over the transports a real unit uses.

A ``DeviceSimulator`` is a protocol state machine. It is served by one or more servers:
``TcpServer`` (raw TCP or Telnet), ``PtyServer`` (an RS-232 line through a pty pair, paced at the
baud rate), ``UdpServer`` (datagrams) and ``SshServer`` (``simulators.ssh_server``). Each
accepted connection runs ``DeviceSimulator.handle_connection(conn)`` in its own thread; the
``SimConnection`` it gets reads with deadlines and applies the fault knobs on every ``send``.

Everything starts and stops as a context manager and leaves no thread, socket or fd behind.

The package: ``connections`` (sessions and their Telnet filter), ``servers`` (TCP, pty, UDP),
``device`` (the lifecycle). Import names from here.
"""

from simulators.harness.connections import (
    POLL,
    ConnectionClosed,
    PtyConnection,
    SimConnection,
    SocketConnection,
)
from simulators.harness.device import DeviceSimulator
from simulators.harness.servers import ListeningServer, PtyServer, Server, TcpServer, UdpServer

__all__ = [
    "POLL", "ConnectionClosed", "DeviceSimulator", "ListeningServer", "PtyConnection", "PtyServer",
    "Server", "SimConnection", "SocketConnection", "TcpServer", "UdpServer",
]
