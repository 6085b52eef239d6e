"""Poly (Polycom) RealPresence Group Series / HDX codecs over the telnet API (port 24) or SSH.

Protocol facts: protocols.md section 2. Commands end with CR, replies end CRLF; a plain command
is acknowledged by echoing it, queries answer ``<name> <value>``, errors start ``error:``.
Call progress comes from ``notify callstatus`` notifications; standby from ``sleep register``.
Commands are paced (``pacing_ms``, 200 ms per the integrator tips) by a rate limiter whose pauses
are spent reading notifications, never sleeping.

Endpoint.options (defaults in brackets; [unverified] facts are the configurable ones):
``pacing_ms`` [200]; ``login_timeout`` s [10]; ``prompt`` regex closing the welcome/whoami
block [``-> ``, unverified]; ``status_end`` line closing ``status`` [``status end``,
unverified]; ``max_resolution`` used to estimate resolution from rate [``1920x1080``];
``network_takes_effect`` ``reboot`` | ``now`` [``reboot``, unverified: HDX prompts a restart];
``reboot_drop_timeout`` s [10]; ``dial_timeout`` s [endpoint timeout]; ``serial_prompt_window`` s
[1: how long an RS-232 port may take to show its login prompt after Enter].
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from drivers.codec_common import (
    CodecDriverBase,
    RateLimiter,
    call_state,
    opt,
    resolution_for_rate,
    verdict_of,
)
from drivers.errors import AuthError, CommandRejected, DeviceTimeout, ProtocolError
from drivers.poly_grammar import (
    CALLINFO,
    CALLSTATUS,
    CAUSES,
    CONFIG_COMMANDS,
    FINISHED_CAP,
    LOGIN_PROMPT,
    NOTIFICATION_PREFIXES,
    WELCOME,
    strip_prompt,
)
from drivers.roles import ApplyReport, CallInfo, Endpoint, Health, Identity
from drivers.transcript import Transcript
from drivers.transports.base import Transport


class PolyGroupDriver(CodecDriverBase):
    vendor = "Poly"

    def __init__(self, endpoint: Endpoint, *, name: str = "", transcript: Transcript | None = None) -> None:
        super().__init__(endpoint, name=name, transcript=transcript)
        o = endpoint.options
        self.host = endpoint.host
        self.port = endpoint.port or (22 if endpoint.transport == "ssh" else 24)
        self.pacer = RateLimiter(float(opt(o, "pacing_ms", 200)) / 1000.0)
        self.login_timeout = float(opt(o, "login_timeout", 10.0))
        self.serial_prompt_window = float(opt(o, "serial_prompt_window", 1.0))
        self.prompt = re.compile(str(opt(o, "prompt", r"-> ")))
        self.status_end = str(opt(o, "status_end", "status end"))
        self.max_resolution = str(opt(o, "max_resolution", "1920x1080"))
        self.network_effect = str(opt(o, "network_takes_effect", "reboot"))
        self.dial_timeout = float(opt(o, "dial_timeout", endpoint.timeout))
        self._transport: Transport | None = None
        self._welcome: dict[str, str] = {}
        self._calls: dict[str, CallInfo] = {}
        self._ended: OrderedDict[str, str] = OrderedDict()   # call id -> cause code, last FINISHED_CAP
        self.standby_state: str = "unknown"

    # session -------------------------------------------------------------------------------------
    def _connect_once(self, connect_timeout: float) -> None:
        self.close()
        transport = self._make_transport(connect_timeout)
        transport.open()
        self._transport = transport
        self._calls.clear()
        try:
            self._login()
            # Notifications are per session on our units: register again after every connect.
            self._command("notify callstatus", lambda ln: ln.startswith(("notify callstatus", "info:")))
            self._command("sleep register", lambda ln: ln.startswith(("sleep registered", "info:")))
            self.calls()
        except BaseException:
            self.close()
            raise

    def _login(self) -> None:
        transport = rx = self._io()
        deadline = time.monotonic() + self.login_timeout
        prompt_re = LOGIN_PROMPT
        sent_password = False
        if self.endpoint.transport == "serial":
            self._wake_serial()
        while True:
            line = rx.take_line()
            if line is None:
                tail = rx.pending_text()
                m = prompt_re.search(tail)
                if m:
                    rx.discard_pending()
                    if m.group(1).lower().startswith("user"):
                        transport.write((self.endpoint.username or "admin").encode() + b"\r")
                    elif sent_password:
                        raise AuthError("password refused", device=self.name)
                    else:
                        transport.write(self.endpoint.password.encode() + b"\r")
                        sent_password = True
                    continue
                self._check_prefix(tail)
                if time.monotonic() >= deadline or not rx.fill(deadline):
                    if time.monotonic() >= deadline:
                        rx.discard_pending(stale=True)
                        raise DeviceTimeout("no login prompt or welcome within the deadline",
                                            device=self.name)
                continue
            text = strip_prompt(line)
            if not text or text == "whoami":   # whoami: our own wake-up on a serial line, echoed
                continue
            if "login failed" in text.lower():
                raise AuthError("password refused", device=self.name)
            if text.startswith(WELCOME):
                self._welcome = self._read_welcome(text, deadline)
                return
            raise ProtocolError(f"unexpected text before the welcome: {text[:60]!r}", device=self.name,
                                data=text)

    def _wake_serial(self) -> None:
        """RS-232 sends nothing until we type: Enter brings the login prompt on a logged-out port;
        a port still logged in (the line keeps its session across our reconnects) answers
        ``whoami`` with its welcome block instead."""
        link = self._io()
        link.write(b"\r")
        window = time.monotonic() + self.serial_prompt_window
        while time.monotonic() < window:
            if LOGIN_PROMPT.search(link.pending_text()):
                return
            link.fill(window)
        link.discard_pending()
        link.write(b"whoami\r")

    def _check_prefix(self, tail: str) -> None:
        """A garbled banner never completes a line: spot it by its first characters."""
        text = strip_prompt(tail.lstrip("\r\n"))
        if len(text) >= len(WELCOME) and not text.startswith(WELCOME) and not re.match(
                r"(User|Password|--|\s)", text, re.I):
            raise ProtocolError(f"unexpected text: {text[:60]!r}", device=self.name, data=text)

    def _read_welcome(self, first: str, deadline: float) -> dict[str, str]:
        rx = self._io()
        info = {"System Name": re.sub(rf"^{WELCOME}\s*:?\s*", "", first).strip()}
        while True:
            line = rx.take_line()
            if line is None:
                if self.prompt.fullmatch(rx.pending_text()) or self.prompt.match(rx.pending_text()):
                    rx.discard_pending()
                    return info
                if time.monotonic() >= deadline or not rx.fill(deadline):
                    if time.monotonic() >= deadline:
                        rx.discard_pending(stale=True)
                        raise DeviceTimeout("welcome block did not end", device=self.name)
                continue
            text = strip_prompt(line)
            if not text or text.startswith("Here is what I know"):
                continue
            key, sep, value = text.partition(":")
            if not sep:
                raise ProtocolError(f"unparseable welcome line {text[:60]!r}", device=self.name, data=text)
            info[key.strip()] = value.strip()

    # command / reply -------------------------------------------------------------------------------
    def _pace(self) -> None:
        """Spend the pacing gap reading notifications."""
        rx = self._io()
        wait = self.pacer.remaining()
        if wait <= 0:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            line = rx.take_line()
            if line is not None:
                self._dispatch_unsolicited(strip_prompt(line))
                continue
            rx.fill(deadline)

    def _send(self, command: str) -> None:
        transport = self._io()
        self._pace()
        self._drain_notifications()
        transport.write(command.encode("utf-8") + b"\r")
        self.pacer.mark()

    def _drain_notifications(self) -> None:
        rx = self._io()
        while (line := rx.take_line()) is not None:
            self._dispatch_unsolicited(strip_prompt(line))

    def _command(self, command: str, accept: Any, timeout: float | None = None) -> str:
        """Send ``command``; return the first reply line ``accept(line)`` takes. ``error:``
        lines become ``CommandRejected``; unknown lines ``ProtocolError``."""
        rx = self._io()
        self._send(command)
        deadline = time.monotonic() + (timeout or self.endpoint.timeout)
        while True:
            text = strip_prompt(rx.next_line(deadline, f"reply to {command!r}"))
            if not text:
                continue
            if accept(text):
                return text
            if text.lower().startswith("error:") or text.lower().startswith("info:"):
                raise CommandRejected(text.split(":", 1)[0].lower(), text.split(":", 1)[1].strip(),
                                      device=self.name, command=command)
            if text == command:
                continue  # HDX-style echo of the command line
            if self._dispatch_unsolicited(text):
                continue
            raise ProtocolError(f"unexpected reply to {command!r}: {text[:80]!r}", device=self.name,
                                data=text)

    def _block(self, command: str, first: Any, end: Any, single: Any = None) -> list[str]:
        """Lines of a multi-line reply from the line ``first`` accepts to the one ``end`` accepts;
        ``single`` accepts a one-line answer instead (e.g. ``system is not in a call``)."""
        rx = self._io()
        opener = self._command(command, lambda ln: first(ln) or (single is not None and single(ln)))
        if single is not None and single(opener) and not first(opener):
            return [opener]
        lines = [opener]
        deadline = time.monotonic() + self.endpoint.timeout
        while True:
            text = strip_prompt(rx.next_line(deadline, f"end of {command!r}"))
            if not text:
                continue
            lines.append(text)
            if end(text):
                return lines

    def _dispatch_unsolicited(self, text: str) -> bool:
        if not text:
            return True
        m = CALLSTATUS.match(text)
        if m:
            direction, cid, name, number, state, speed, cause, _ = m.groups()
            if state == "disconnected":
                self._calls.pop(cid, None)
                self._ended[cid] = cause or "16"
                self._ended.move_to_end(cid)
                while len(self._ended) > FINISHED_CAP:   # months of calls must not grow memory
                    self._ended.popitem(last=False)
            else:
                rate = int(speed) if speed and speed != "0" else 0
                old = self._calls.get(cid)
                rate = rate or (old.rate_kbps if old else 0)
                self._calls[cid] = CallInfo(cid, direction, number or name, call_state(state), rate,
                                            resolution_for_rate(rate, self.max_resolution) if rate else "",
                                            "sip")
            return True
        if text == "listen going to sleep":
            self.standby_state = "standby"
            return True
        if text == "listen waking up":
            self.standby_state = "awake"
            return True
        return text.startswith(NOTIFICATION_PREFIXES)

    # identity and health ----------------------------------------------------------------------------
    def identify(self) -> Identity:
        self._ensure_connected()
        first = self._command("whoami", lambda ln: ln.startswith(WELCOME))
        self._welcome = self._read_welcome(first, time.monotonic() + self.endpoint.timeout)
        w = self._welcome
        version = w.get("Software Version", "")
        m = re.search(r"\d+(\.\d+)+", version)
        return Identity(vendor=self.vendor, model=w.get("Model", ""), serial=w.get("Serial Number", ""),
                        firmware=m.group(0) if m else version,
                        extra={"system_name": w.get("System Name", ""), "software": version})

    def status(self) -> dict[str, str]:
        lines = self._block("status", lambda ln: bool(re.fullmatch(r"\w+ (online|offline)", ln)),
                            lambda ln: ln == self.status_end)
        out: dict[str, str] = {}
        for line in lines:
            if line == self.status_end:
                continue
            m = re.fullmatch(r"(\w+) (online|offline)", line)
            if not m:
                raise ProtocolError(f"unparseable status line {line!r}", device=self.name, data=line)
            out[m.group(1)] = m.group(2)
        return out

    def health(self) -> Health:
        self._ensure_connected()
        st = self.status()
        sip = "Registered" if st.get("sipserver") == "online" else "Unregistered"
        gk = "Registered" if st.get("gatekeeper") == "online" else "Unregistered"
        diagnostics = [f"{svc} offline" for svc in ("microphones", "ipnetwork") if st.get(svc) == "offline"]
        down: list[str] = ["IP network offline"] if st.get("ipnetwork") == "offline" else []
        degraded: list[str] = list(diagnostics)
        if sip != "Registered" and gk != "Registered":
            degraded.append("not registered (SIP and H.323)")
        return Health(verdict_of(down, degraded), tuple(down + degraded),
                      {"sip": sip, "h323": gk, "standby": self.standby_state, "diagnostics": diagnostics,
                       "in_call": st.get("inacall") == "online", "status": st})

    # calls --------------------------------------------------------------------------------------------
    def calls(self) -> list[CallInfo]:
        self._ensure_connected()
        lines = self._block("callinfo all", lambda ln: ln == "callinfo begin",
                            lambda ln: ln == "callinfo end",
                            single=lambda ln: ln == "system is not in a call")
        result: list[CallInfo] = []
        for line in lines:
            if line in ("callinfo begin", "callinfo end", "system is not in a call"):
                continue
            m = CALLINFO.match(line)
            if not m:
                if self._dispatch_unsolicited(line):
                    continue
                raise ProtocolError(f"unparseable callinfo line {line!r}", device=self.name, data=line)
            cid, name, number, speed, state, _mute, direction, _kind = m.groups()
            rate = int(speed)
            result.append(CallInfo(cid, direction, number or name, call_state(state), rate,
                                   resolution_for_rate(rate, self.max_resolution), "sip"))
        return result

    def dial(self, uri: str, protocol: str = "sip", rate: int = 1920) -> str:
        self._ensure_connected()
        protocol = protocol.lower()
        if protocol not in ("sip", "h323"):
            raise CommandRejected("protocol", f"unsupported protocol {protocol!r}", device=self.name)
        known = set(self._calls) | set(self._ended)
        command = f'dial manual {int(rate)} "{uri}" {protocol}'
        self._command(command, lambda ln: ln == "dialing manual")
        rx = self._io()
        deadline = time.monotonic() + self.dial_timeout
        call_id: str | None = None
        while True:
            if call_id is None:
                fresh = [c for c in self._calls if c not in known and self._calls[c].direction == "outgoing"]
                fresh += [c for c in self._ended if c not in known]
                call_id = fresh[0] if fresh else None
            if call_id is not None:
                if call_id in self._ended:
                    code = self._ended[call_id]
                    raise CommandRejected(code, f"call to {uri} failed: {CAUSES.get(code, 'cause ' + code)}",
                                          device=self.name, command=command)
                if self._calls[call_id].state in ("ringing", "connected"):
                    return call_id
            line = rx.take_line()
            if line is None:
                if time.monotonic() >= deadline or not rx.fill(deadline):
                    if time.monotonic() >= deadline:
                        if call_id is not None:
                            return call_id   # still setting up: the caller follows it with calls()
                        raise DeviceTimeout(f"no call progress after dialing {uri}", device=self.name)
                continue
            text = strip_prompt(line)
            if not self._dispatch_unsolicited(text):
                raise ProtocolError(f"unexpected line while dialing: {text[:80]!r}", device=self.name,
                                    data=text)

    def wait_for_call(self, call_id: str, states: tuple[str, ...], timeout: float) -> CallInfo | None:
        rx = self._io()
        deadline = time.monotonic() + timeout
        while True:
            if call_id in self._ended and call_id not in self._calls:
                return None
            info = self._calls.get(call_id)
            if info is not None and info.state in states:
                return info
            line = rx.take_line()
            if line is None:
                if time.monotonic() >= deadline or not rx.fill(deadline):
                    if time.monotonic() >= deadline:
                        return info
                continue
            text = strip_prompt(line)
            if not self._dispatch_unsolicited(text):
                raise ProtocolError(f"unexpected line: {text[:80]!r}", device=self.name, data=text)

    def hangup(self, call_id: str | None = None) -> None:
        self._ensure_connected()
        active = [c.call_id for c in self.calls()] if call_id is None else [str(call_id)]
        if call_id is None:
            self._command("hangup all", lambda ln: ln == "hanging up all")
        else:
            self._command(f"hangup video {call_id}", lambda ln: ln == "hanging up video")
        deadline = time.monotonic() + self.endpoint.timeout
        for cid in active:
            # Wait for the disconnect so the far end has heard it too when we return.
            self.wait_for_call(cid, (), max(deadline - time.monotonic(), 0.0))

    def answer(self) -> None:
        self._command("answer video", lambda ln: ln.startswith("answer"))

    # room controls ----------------------------------------------------------------------------------
    def standby(self, on: bool) -> None:
        self._ensure_connected()
        if on:
            self._command("sleep", lambda ln: ln == "sleeping")
            self.standby_state = "standby"
        else:
            self._command("wake", lambda ln: ln.startswith("waking"))
            self.standby_state = "awake"

    def mute(self, on: bool) -> None:
        self._ensure_connected()
        want = f"mute near {'on' if on else 'off'}"
        self._command(want, lambda ln: ln == want)

    def set_volume(self, level: int) -> None:
        """``level`` is 0..100 %; the Group Series scale is 0..50."""
        self._ensure_connected()
        if not 0 <= level <= 100:
            raise CommandRejected("range", f"volume {level} outside 0..100", device=self.name)
        value = round(level / 2)
        self._command(f"volume set {value}", lambda ln: ln == f"volume {value}")

    def preset_activate(self, preset: int) -> None:
        self._ensure_connected()
        self._command(f"preset near go {int(preset)}", lambda ln: ln == f"preset near go {int(preset)}")

    def preset_store(self, preset: int) -> None:
        self._ensure_connected()
        self._command(f"preset near set {int(preset)}", lambda ln: ln == f"preset near set {int(preset)}")

    def set_main_source(self, source: int) -> None:
        self._ensure_connected()
        self._command(f"camera near {int(source)}", lambda ln: ln == f"camera near {int(source)}")

    def presentation(self, on: bool, source: int | None = None) -> None:
        self._ensure_connected()
        if on:
            cmd = "vcbutton play" + (f" {int(source)}" if source is not None else "")
            self._command(cmd, lambda ln: ln.startswith("vcbutton play"))
        else:
            self._command("vcbutton stop", lambda ln: ln == "vcbutton stop")

    # configuration ----------------------------------------------------------------------------------
    def read_config(self) -> dict[str, Any]:
        self._ensure_connected()
        config: dict[str, Any] = {}
        for key, (get, _) in CONFIG_COMMANDS.items():
            if not get:
                continue
            config[key] = self._get_value(get)
        dhcp = self._command("dhcp get", lambda ln: ln.startswith("dhcp "))
        config["network.assignment"] = "DHCP" if dhcp.split()[-1] == "client" else "Static"
        return config

    def _get_value(self, get: str) -> str:
        words = get.split()
        prefix = f"{words[0]} {words[-1]}" if words[0] in ("systemsetting", "dnsserver") else words[0]
        line = self._command(get, lambda ln: ln == prefix or ln.startswith(prefix + " "))
        return line[len(prefix):].strip().strip('"')

    def _write_setting(self, key: str, value: Any) -> None:
        if key == "network.assignment":
            mode = "client" if str(value).upper() == "DHCP" else "off"
            self._command(f"dhcp {mode}", lambda ln: ln == f"dhcp {mode}")
            return
        _, template = CONFIG_COMMANDS[key]
        text = str(value)
        if '"' in text or "\r" in text or "\n" in text:
            raise CommandRejected("value", f"{key} value contains a quote or line break", device=self.name)
        words = template.split()
        name = " ".join(words[:2]) if words[0] == "systemsetting" else (
            "dnsserver 1" if words[0] == "dnsserver" else words[0])
        self._command(template.format(v=text), lambda ln: ln == name or ln.startswith(name + " "))

    def _after_apply(self, changed: list[str]) -> None:
        network = [k for k in changed if k.startswith("network.")]
        new_host = self.host
        if "network.ipv4.address" in changed:
            new_host = self._pending_address
        if network and self.network_effect == "reboot":
            self.reboot(wait=False)
            self.host = new_host
            self.reconnect_until(time.monotonic() + self.endpoint.boot_time + 30.0)
        elif new_host != self.host:
            self.close()
            self.host = new_host
            self.reconnect_until(time.monotonic() + self.endpoint.boot_time + 30.0)

    _pending_address: str = ""

    def apply_config(self, desired: Mapping[str, Any]) -> ApplyReport:
        if "network.ipv4.address" in desired:
            self._pending_address = str(desired["network.ipv4.address"])
        return super().apply_config(desired)

    # reboot ---------------------------------------------------------------------------------------
    def _send_reboot(self) -> None:
        self._ensure_connected()
        self._send("reboot now")
