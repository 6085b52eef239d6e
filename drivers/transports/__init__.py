"""Transports: move bytes to a device and read them back with deadlines."""

from drivers.transports.base import Terminator, Transport
from drivers.transports.login import prompt_login
from drivers.transports.serial_line import SerialTransport
from drivers.transports.ssh import SshTransport
from drivers.transports.tcp import TcpTransport
from drivers.transports.telnet import TelnetTransport
from drivers.transports.udp import UdpTransport

__all__ = [
    "SerialTransport",
    "SshTransport",
    "TcpTransport",
    "TelnetTransport",
    "Terminator",
    "Transport",
    "UdpTransport",
    "prompt_login",
]
