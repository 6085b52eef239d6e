"""Transports: move bytes to a device and read them back with deadlines."""

from drivers.transports.base import Terminator, Transport
from drivers.transports.serial_line import SerialTransport
from drivers.transports.tcp import TcpTransport
from drivers.transports.telnet import TelnetTransport
from drivers.transports.udp import UdpTransport

__all__ = ["SerialTransport", "TcpTransport", "TelnetTransport", "Terminator", "Transport", "UdpTransport"]
