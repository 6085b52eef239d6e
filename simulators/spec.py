"""What a simulator needs to know to stand in for one device: plain data, no profile code.

``roomops sim`` builds these from a resolved site profile; tests build them by hand. Each
simulator class offers ``from_spec(spec, site)`` where ``site`` is the ``SiteSimulation`` it
belongs to (call fabric, the other devices for PDU wiring), or ``None`` when run alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class SimSpec:
    device_id: str                 # "urumqi.codec"
    driver: str                    # driver name from the model profile: "cisco-roomos", "pjlink", ...
    model: str = ""                # model profile name, e.g. "cisco-roomkit"
    transport: str = "tcp"         # "ssh" | "telnet" | "tcp" | "udp" | "serial"
    host: str = "127.0.0.1"
    port: int = 0
    serial_link: str = ""          # stable symlink path for a serial device
    baudrate: int = 9600
    username: str = "admin"
    password: str = field(default="", repr=False)
    boot_time: float = 2.0
    identity: dict[str, str] = field(default_factory=dict)   # serial number, model name, firmware
    options: dict[str, Any] = field(default_factory=dict)    # model/site specifics (sip_uri, outlets...)
