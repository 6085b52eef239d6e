"""What a device can do, independent of brand: result types and role interfaces.

The agent works against these and never against a vendor protocol. A driver declares the roles
it plays in ``roles`` and implements the matching methods; ``Driver`` holds what every device
offers (identity, health, self-test checks, reboot, configuration).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from drivers.transcript import Transcript


class Verdict(StrEnum):
    OK = "ok"
    DEGRADED = "degraded"
    DOWN = "down"


class CheckStatus(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True)
class Identity:
    vendor: str
    model: str
    serial: str
    firmware: str
    extra: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Health:
    verdict: Verdict
    reasons: tuple[str, ...] = ()
    #: Raw facts behind the verdict, e.g. {"sip": "Registered", "standby": "Off", "lamp_hours": 1200}
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict.value, "reasons": list(self.reasons), "details": dict(self.details)}


@dataclass(frozen=True)
class CallInfo:
    call_id: str
    direction: str            # "incoming" | "outgoing"
    remote_uri: str
    state: str                # "dialing" | "ringing" | "connecting" | "connected" | "disconnecting" | "idle"
    rate_kbps: int = 0
    resolution: str = ""      # e.g. "1920x1080", "704x576"
    protocol: str = ""        # "sip" | "h323"

    @property
    def is_hd(self) -> bool:
        """HD means at least 720 lines (1280x720)."""
        try:
            return int(self.resolution.lower().split("x")[1]) >= 720
        except (IndexError, ValueError):
            return False

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "hd": self.is_hd}


@dataclass(frozen=True)
class CheckOutcome:
    status: CheckStatus
    reason: str = ""
    measured: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def passed(cls, reason: str = "", **measured: Any) -> CheckOutcome:
        return cls(CheckStatus.PASS, reason, measured)

    @classmethod
    def failed(cls, reason: str, **measured: Any) -> CheckOutcome:
        return cls(CheckStatus.FAIL, reason, measured)

    @classmethod
    def warned(cls, reason: str, **measured: Any) -> CheckOutcome:
        return cls(CheckStatus.WARN, reason, measured)


@dataclass(frozen=True)
class DeviceCheck:
    """One self-test check a driver contributes. ``run`` does blocking I/O on the device thread;
    it returns an outcome or raises a ``DeviceError`` (the runner turns that into a failure)."""

    name: str                                  # e.g. "codec.registered"
    description: str
    run: Callable[[], CheckOutcome]
    timeout: float = 15.0
    needs: tuple[str, ...] = ()                # names of checks that must pass first


@dataclass(frozen=True)
class ConfigChange:
    key: str
    old: Any
    new: Any


@dataclass
class ApplyReport:
    """What ``apply_config`` did: changed keys, and whether the read-back matched."""

    changes: list[ConfigChange] = field(default_factory=list)
    verified: bool = True
    mismatches: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # key -> (wanted, read back)
    rolled_back: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.changes)


@dataclass(frozen=True)
class Endpoint:
    """Where and how to reach one device. Built by the agent from a resolved profile."""

    transport: str                      # "ssh" | "telnet" | "tcp" | "udp" | "serial"
    host: str = ""
    port: int = 0
    serial_url: str = ""                # any pyserial URL: /dev/ttyUSB0, a pty path, socket://...
    baudrate: int = 9600
    username: str = ""
    password: str = field(default="", repr=False)
    known_hosts: str = ""               # SSH: file of pinned host keys
    trust_on_first_use: bool = False    # SSH: record an unknown host key instead of refusing
    timeout: float = 5.0                # default command deadline, seconds
    boot_time: float = 60.0             # how long a reboot may take, seconds
    options: Mapping[str, Any] = field(default_factory=dict)  # model-specific knobs

    def describe(self) -> str:
        if self.transport == "serial":
            return f"serial:{self.serial_url}"
        user = f"{self.username}@" if self.username else ""
        return f"{self.transport}://{user}{self.host}:{self.port}"


class Driver(ABC):
    """Base of every device driver. Constructors do no I/O; one thread uses a driver at a time."""

    #: Role names this driver plays: "codec", "camera", "switcher", "display", "recorder",
    #: "router", "power".
    roles: frozenset[str] = frozenset()

    def __init__(self, endpoint: Endpoint, *, name: str = "", transcript: Transcript | None = None) -> None:
        self.endpoint = endpoint
        self.name = name or endpoint.describe()
        self.transcript = transcript if transcript is not None else Transcript()
        self.transcript.add_secret(endpoint.password)

    @abstractmethod
    def connect(self) -> None:
        """Open the session and log in. Idempotent."""

    @abstractmethod
    def close(self) -> None:
        """Close the session. Never raises for an already-dead link."""

    @property
    @abstractmethod
    def connected(self) -> bool: ...

    @abstractmethod
    def identify(self) -> Identity: ...

    @abstractmethod
    def health(self) -> Health: ...

    @abstractmethod
    def selftest_checks(self, expect: Mapping[str, Any]) -> list[DeviceCheck]:
        """The checks this device contributes; ``expect`` comes from the site profile
        (e.g. {"serial": "FTT123", "registered": True, "test_uri": "...", "hd_rate": 1920})."""

    def reboot(self, wait: bool = True, timeout: float | None = None) -> float | None:
        """Restart the device; with ``wait`` reconnect and return the seconds it was away."""
        from drivers.errors import Unsupported

        raise Unsupported(f"{type(self).__name__} cannot reboot", device=self.name)

    def read_config(self) -> dict[str, Any]:
        return {}

    def apply_config(self, desired: Mapping[str, Any]) -> ApplyReport:
        from drivers.errors import Unsupported

        raise Unsupported(f"{type(self).__name__} has no settings to apply", device=self.name)

    def __enter__(self) -> Driver:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


# -- role interfaces ------------------------------------------------------------------------------
@runtime_checkable
class Codec(Protocol):
    def dial(self, uri: str, protocol: str = "sip", rate: int = 1920) -> str: ...
    def hangup(self, call_id: str | None = None) -> None: ...      # None = all calls
    def calls(self) -> list[CallInfo]: ...
    def standby(self, on: bool) -> None: ...
    def mute(self, on: bool) -> None: ...
    def set_volume(self, level: int) -> None: ...
    def preset_activate(self, preset: int) -> None: ...
    def preset_store(self, preset: int) -> None: ...
    def set_main_source(self, source: int) -> None: ...
    def presentation(self, on: bool, source: int | None = None) -> None: ...


@runtime_checkable
class Camera(Protocol):
    def power(self, on: bool) -> None: ...
    def is_powered(self) -> bool: ...
    def preset_recall(self, preset: int) -> None: ...
    def preset_store(self, preset: int) -> None: ...
    def preset_reset(self, preset: int) -> None: ...
    def home(self) -> None: ...
    def position(self) -> tuple[int, int]: ...


@runtime_checkable
class Switcher(Protocol):
    def route(self, input: int, output: int, plane: str = "all") -> None: ...
    def routes(self) -> dict[int, int]: ...                          # output -> input (video)
    def preset_recall(self, preset: int) -> None: ...
    def preset_save(self, preset: int) -> None: ...
    def video_mute(self, output: int, on: bool) -> None: ...


@runtime_checkable
class Display(Protocol):
    def power(self, on: bool) -> None: ...
    def power_state(self) -> str: ...            # "on" | "standby" | "warming" | "cooling"
    def select_input(self, source: str) -> None: ...   # e.g. "31" = DIGITAL 1 (PJLink)
    def current_input(self) -> str: ...
    def errors(self) -> dict[str, str]: ...       # {"fan": "ok", "lamp": "warning", ...}
    def lamp_hours(self) -> list[int]: ...


@runtime_checkable
class Recorder(Protocol):
    def record_start(self) -> None: ...
    def record_stop(self) -> None: ...
    def record_pause(self) -> None: ...
    def record_status(self) -> dict[str, Any]: ...   # {"state": "recording", "file": ..., "elapsed": s}


@runtime_checkable
class Router(Protocol):
    def uplink(self) -> dict[str, Any]: ...          # {"interface", "status", "protocol", "address"}
    def ping(self, target: str, count: int = 5) -> dict[str, Any]: ...  # {"sent","received","loss","rtt_ms"}


@runtime_checkable
class PowerOutlet(Protocol):
    def outlet_status(self, outlet: int | None = None) -> dict[int, bool]: ...
    def outlet_on(self, outlet: int) -> None: ...
    def outlet_off(self, outlet: int) -> None: ...
    def outlet_cycle(self, outlet: int, off_seconds: float = 5.0) -> None: ...


#: The name a driver lists in ``Driver.roles`` for each role interface.
ROLE_NAMES: dict[type, str] = {Codec: "codec", Camera: "camera", Switcher: "switcher", Display: "display",
                               Recorder: "recorder", Router: "router", PowerOutlet: "power"}


def plays(driver: Driver, role: type) -> bool:
    """Does ``driver`` declare ``role`` (one of the protocols above) in its ``roles``?"""
    return ROLE_NAMES.get(role, "") in driver.roles
