"""Sony VISCA PTZ cameras over RS-232 (``Endpoint.transport == "serial"``, 9600 8N1 by default,
any pyserial URL) or VISCA over IP (``"udp"``, port 52381).

Framing and the request engine live in ``drivers.visca_link``; this module is the ``Camera``
role: power, presets, pan/tilt drive, absolute position, home, zoom, position and version
inquiries. Commands that move the camera return when the camera reports completion, so a
preset recall returns once the camera is there.

Endpoint options (defaults):
- ``ack_timeout``: seconds for an ACK or inquiry answer (``Endpoint.timeout``);
- ``motion_timeout`` 15.0: seconds for a preset recall, home or absolute move to complete;
- ``power_on_timeout`` 30.0: seconds for power-on to complete (cameras take several seconds);
- ``udp_retry_interval`` 0.25 and ``udp_retries`` 4: resend a datagram with the same sequence
  number after this much silence, this many times before an ACK (after the ACK, resends go on
  until ``motion_timeout``) **[unverified: that a camera answers a repeated sequence number
  without executing the command twice]**;
- ``pan_speed`` 0x0C, ``tilt_speed`` 0x0A: default drive speeds (pan 01-18h, tilt 01-17h);
- ``vendor_names``: {vendor id: name}, extra to the known Sony ids 0x0001 and 0x0020.

``read_config()`` keys: ``address`` (VISCA address in use). No settings are applied through
VISCA (changing a camera's IP over VISCA-over-IP breaks the link): ``apply_config`` is
unsupported.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from drivers.errors import DeviceError, DeviceTimeout, ProtocolError, Unsupported
from drivers.roles import CheckOutcome, DeviceCheck, Driver, Endpoint, Health, Identity, Verdict
from drivers.visca_link import IpViscaLink, SerialViscaLink, ViscaLink

VISCA_IP_PORT = 52381
T = TypeVar("T")
SONY_VENDORS = {0x0001: "Sony", 0x0020: "Sony"}
#: Model ids seen in Sony manuals (protocols.md §3); others are shown as hex.
MODEL_NAMES = {0x0513: "SRG-300H", 0x045C: "FCB-EH4300"}
POWER_CODES = {0x02: "on", 0x03: "standby", 0x04: "power-error"}

PAN_DIRECTIONS = {"left": 0x01, "right": 0x02, "stop": 0x03}
TILT_DIRECTIONS = {"up": 0x01, "down": 0x02, "stop": 0x03}


#: CAM_AE modes [Sony-FCB].
EXPOSURE_MODES = {0x00: "full-auto", 0x03: "manual", 0x0A: "shutter-priority", 0x0B: "iris-priority",
                  0x0D: "bright"}
#: CAM_WB modes [Sony-FCB]; 04 ATW and 05 manual on most models.
WHITE_BALANCE_MODES = {0x00: "auto", 0x01: "indoor", 0x02: "outdoor", 0x03: "one-push", 0x04: "atw",
                       0x05: "manual"}


def nibbles(value: int, count: int = 4) -> bytes:
    value &= (1 << (4 * count)) - 1
    return bytes((value >> (4 * (count - 1 - i))) & 0x0F for i in range(count))


def from_nibbles(data: bytes) -> int:
    out = 0
    for b in data:
        if b > 0x0F:
            raise ValueError(f"byte {b:02X} is not a nibble")
        out = (out << 4) | b
    return out


def signed16(value: int) -> int:
    return value - 0x10000 if value & 0x8000 else value


class ViscaCameraDriver(Driver):
    roles = frozenset({"camera"})

    def __init__(self, endpoint: Endpoint, **kw: Any) -> None:
        super().__init__(endpoint, **kw)
        o = endpoint.options
        self.ack_timeout = float(o.get("ack_timeout", endpoint.timeout))
        self.motion_timeout = float(o.get("motion_timeout", 15.0))
        self.power_on_timeout = float(o.get("power_on_timeout", 30.0))
        self.retry_interval = float(o.get("udp_retry_interval", 0.25))
        self.retries = int(o.get("udp_retries", 4))
        self.pan_speed = int(o.get("pan_speed", 0x0C))
        self.tilt_speed = int(o.get("tilt_speed", 0x0A))
        self.vendor_names = {**SONY_VENDORS, **{int(k): str(v) for k, v in o.get("vendor_names", {}).items()}}
        if endpoint.transport not in ("serial", "udp"):
            raise Unsupported(f"VISCA runs over serial or udp, not {endpoint.transport!r}", device=self.name)
        self._link: ViscaLink | None = None

    # -- session -----------------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._link is not None and self._link.is_open

    @property
    def link(self) -> ViscaLink:
        self.connect()
        assert self._link is not None
        return self._link

    def connect(self) -> None:
        if self.connected:
            return
        ep = self.endpoint
        link: ViscaLink
        if ep.transport == "serial":
            link = SerialViscaLink(ep.serial_url, baudrate=ep.baudrate, name=self.name,
                                   transcript=self.transcript, ack_timeout=self.ack_timeout,
                                   connect_timeout=ep.timeout)
        else:
            link = IpViscaLink(ep.host, ep.port or VISCA_IP_PORT, name=self.name, transcript=self.transcript,
                               ack_timeout=self.ack_timeout, retry_interval=self.retry_interval,
                               retries=self.retries)
        try:
            link.open()
            if isinstance(link, IpViscaLink):
                link.if_clear()  # Address Set does not exist over IP; clear the buffers instead
        except DeviceError:
            link.close()
            raise
        self._link = link

    def close(self) -> None:
        link, self._link = self._link, None
        if link is not None:
            link.close()

    def _readdress_if_restarted(self) -> bool:
        link = self.link
        if isinstance(link, SerialViscaLink) and link.network_changes:
            link.network_changes = 0
            link.address_set()  # the camera restarted: address it again before talking
            return True
        return False

    def _request(self, send: Callable[[], T]) -> T:
        """Run one exchange; if the camera announced a restart (network change) while we waited
        in vain, our packet reached a booting camera and was lost: re-address, send it once more."""
        self._readdress_if_restarted()
        try:
            return send()
        except DeviceTimeout:
            if not self._readdress_if_restarted():
                raise
            self.transcript.note("camera restarted during the request: sending it again")
            return send()

    def _command(self, body: bytes, timeout: float | None = None) -> None:
        wait = self.ack_timeout if timeout is None else timeout
        self._request(lambda: self.link.command(body, wait))

    def _inquiry(self, body: bytes, length: int) -> bytes:
        data = self._request(lambda: self.link.inquiry(body))
        if len(data) != length:
            raise ProtocolError(f"inquiry {body.hex(' ')} answered {data.hex(' ')}", device=self.name,
                                data=data)
        return data

    # -- Camera role -----------------------------------------------------------------------------------
    def power(self, on: bool) -> None:
        if on:
            self._command(b"\x01\x04\x00\x02", self.power_on_timeout)
        else:
            self._command(b"\x01\x04\x00\x03")

    def power_status(self) -> str:
        """"on", "standby" or "power-error" (internal power circuit error)."""
        code = self._inquiry(b"\x09\x04\x00", 1)[0]
        try:
            return POWER_CODES[code]
        except KeyError:
            raise ProtocolError(f"power inquiry answered {code:02X}", device=self.name) from None

    def is_powered(self) -> bool:
        return self.power_status() == "on"

    def _preset(self, action: int, preset: int) -> None:
        if not 0 <= preset <= 0xFF:
            raise ValueError(f"preset {preset} out of range 0-255")
        timeout = self.motion_timeout if action == 2 else None
        self._command(bytes((0x01, 0x04, 0x3F, action, preset)), timeout)

    def preset_recall(self, preset: int) -> None:
        self._preset(0x02, preset)

    def preset_store(self, preset: int) -> None:
        self._preset(0x01, preset)

    def preset_reset(self, preset: int) -> None:
        self._preset(0x00, preset)

    def home(self) -> None:
        self._command(b"\x01\x06\x04", self.motion_timeout)

    def pan_tilt_reset(self) -> None:
        """Re-initialise the pan/tilt mechanism (it sweeps, then homes)."""
        self._command(b"\x01\x06\x05", self.motion_timeout)

    def drive(self, pan: str = "stop", tilt: str = "stop", pan_speed: int | None = None,
              tilt_speed: int | None = None) -> None:
        """Start (or stop) a continuous pan/tilt move: pan left/right/stop, tilt up/down/stop."""
        vv = self.pan_speed if pan_speed is None else pan_speed
        ww = self.tilt_speed if tilt_speed is None else tilt_speed
        if not (1 <= vv <= 0x18 and 1 <= ww <= 0x17):
            raise ValueError("pan speed must be 1-0x18 and tilt speed 1-0x17")
        self._command(bytes((0x01, 0x06, 0x01, vv, ww, PAN_DIRECTIONS[pan], TILT_DIRECTIONS[tilt])))

    def stop(self) -> None:
        self.drive("stop", "stop")

    def move_to(self, pan: int, tilt: int, pan_speed: int = 0x18, tilt_speed: int = 0x14,
                relative: bool = False) -> None:
        """Absolute (or relative) position; returns when the camera has arrived."""
        verb = 0x03 if relative else 0x02
        body = bytes((0x01, 0x06, verb, pan_speed, tilt_speed)) + nibbles(pan) + nibbles(tilt)
        self._command(body, self.motion_timeout)

    def position(self) -> tuple[int, int]:
        data = self._inquiry(b"\x09\x06\x12", 8)
        try:
            return signed16(from_nibbles(data[:4])), signed16(from_nibbles(data[4:]))
        except ValueError as exc:
            raise ProtocolError(f"position answer {data.hex(' ')}: {exc}", device=self.name,
                                data=data) from exc

    def zoom(self, direction: str, speed: int | None = None) -> None:
        """``tele``, ``wide`` or ``stop``; ``speed`` 0-7 for the variable-speed form."""
        base = {"stop": 0x00, "tele": 0x02, "wide": 0x03}[direction]
        if speed is not None and direction != "stop":
            base = (0x20 if direction == "tele" else 0x30) | (speed & 0x07)
        self._command(bytes((0x01, 0x04, 0x07, base)))

    def zoom_to(self, position: int) -> None:
        if not 0 <= position <= 0xFFFF:
            raise ValueError("zoom position must be 0-0xFFFF")
        self._command(b"\x01\x04\x47" + nibbles(position), self.motion_timeout)

    def zoom_position(self) -> int:
        data = self._inquiry(b"\x09\x04\x47", 4)
        try:
            return from_nibbles(data)
        except ValueError as exc:
            raise ProtocolError(f"zoom answer {data.hex(' ')}", device=self.name, data=data) from exc

    def focus_auto(self, on: bool) -> None:
        self._command(b"\x01\x04\x38" + (b"\x02" if on else b"\x03"))

    def focus(self, direction: str) -> None:
        """``far``, ``near`` or ``stop`` (manual focus; refused with ``41`` while AF is on)."""
        self._command(b"\x01\x04\x08" + bytes(({"stop": 0, "far": 2, "near": 3}[direction],)))

    def focus_position(self) -> int:
        """CAM_FocusPosInq ``09 04 48`` -> ``0p 0q 0r 0s``."""
        return from_nibbles(self._inquiry(b"\x09\x04\x48", 4))

    def exposure_mode(self) -> str:
        """CAM_AEModeInq ``09 04 39``."""
        code = self._inquiry(b"\x09\x04\x39", 1)[0]
        return EXPOSURE_MODES.get(code, f"0x{code:02X}")

    def white_balance(self) -> str:
        """CAM_WBModeInq ``09 04 35``."""
        code = self._inquiry(b"\x09\x04\x35", 1)[0]
        return WHITE_BALANCE_MODES.get(code, f"0x{code:02X}")

    def backlight(self) -> bool:
        """CAM_BackLightModeInq ``09 04 33``: 02 on, 03 off."""
        code = self._inquiry(b"\x09\x04\x33", 1)[0]
        if code not in (0x02, 0x03):
            raise ProtocolError(f"backlight mode {code:02X} is neither on nor off", device=self.name)
        return code == 0x02

    def picture(self) -> dict[str, Any]:
        """The picture settings an inspection records: focus, exposure, white balance, backlight."""
        return {"focus_position": self.focus_position(), "exposure": self.exposure_mode(),
                "white_balance": self.white_balance(), "backlight": self.backlight()}

    def cancel(self, socket_no: int) -> bool:
        """Cancel what runs on socket 1 or 2; False if nothing was running there."""
        return self.link.cancel(socket_no)

    def version(self) -> dict[str, int]:
        data = self._inquiry(b"\x09\x00\x02", 7)
        return {"vendor": int.from_bytes(data[0:2], "big"), "model": int.from_bytes(data[2:4], "big"),
                "rom": int.from_bytes(data[4:6], "big"), "max_socket": data[6]}

    # -- common -------------------------------------------------------------------------------------
    def identify(self) -> Identity:
        v = self.version()
        return Identity(
            vendor=self.vendor_names.get(v["vendor"], f"0x{v['vendor']:04X}"),
            model=MODEL_NAMES.get(v["model"], f"0x{v['model']:04X}"),
            serial="",  # VISCA has no serial-number inquiry
            firmware=f"{v['rom']:04X}",
            extra={"vendor_id": f"{v['vendor']:04X}", "model_id": f"{v['model']:04X}",
                   "max_socket": str(v["max_socket"])},
        )

    def health(self) -> Health:
        status = self.power_status()
        details: dict[str, Any] = {"power": status}
        if status == "power-error":
            return Health(Verdict.DOWN, ("internal power circuit error",), details)
        if status == "on":
            details["position"] = self.position()
        return Health(Verdict.OK, (), details)

    def selftest_checks(self, expect: Mapping[str, Any]) -> list[DeviceCheck]:
        checks = [
            DeviceCheck("camera.power", "camera powered on", self._check_power,
                        timeout=self.power_on_timeout + 5),
            DeviceCheck("camera.position", "pan/tilt position readable", self._check_position,
                        needs=("camera.power",)),
        ]
        if "preset" in expect:
            preset = int(expect["preset"])
            checks.append(DeviceCheck("camera.preset_recall", f"preset {preset} recalled",
                                      lambda: self._check_preset(preset), timeout=self.motion_timeout + 5,
                                      needs=("camera.power",)))
        checks.append(DeviceCheck("camera.picture", "focus, exposure, white balance and backlight readable",
                                  self._check_picture, needs=("camera.power",)))
        if "model" in expect:
            wanted = str(expect["model"])
            checks.append(DeviceCheck("camera.identity", f"camera model {wanted}",
                                      lambda: self._check_model(wanted)))
        return checks

    def _check_power(self) -> CheckOutcome:
        status = self.power_status()
        if status == "power-error":
            return CheckOutcome.failed("internal power circuit error", power=status)
        if status != "on":
            self.power(True)
            status = self.power_status()
        if status != "on":
            return CheckOutcome.failed(f"camera is {status} after power on", power=status)
        return CheckOutcome.passed("camera on", power=status)

    def _check_position(self) -> CheckOutcome:
        pan, tilt = self.position()
        return CheckOutcome.passed(f"pan {pan} tilt {tilt}", pan=pan, tilt=tilt)

    def _check_picture(self) -> CheckOutcome:
        picture = self.picture()
        summary = f"exposure {picture['exposure']}, white balance {picture['white_balance']}"
        return CheckOutcome.passed(summary,
                                   **picture)

    def _check_preset(self, preset: int) -> CheckOutcome:
        self.preset_recall(preset)
        pan, tilt = self.position()
        return CheckOutcome.passed(f"preset {preset} recalled: pan {pan} tilt {tilt}", pan=pan, tilt=tilt)

    def _check_model(self, wanted: str) -> CheckOutcome:
        ident = self.identify()
        if wanted not in (ident.model, ident.extra.get("model_id", "")):
            return CheckOutcome.failed(f"camera is {ident.model}, expected {wanted}", model=ident.model)
        return CheckOutcome.passed(ident.model, model=ident.model)

    def read_config(self) -> dict[str, Any]:
        return {"address": self.link.address}
