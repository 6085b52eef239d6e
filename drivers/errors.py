"""The one error hierarchy every driver raises.

Split by what the caller should do, not by where the error came from:

- ``ConnectError``: could not reach the device (refused, no route, port closed). Retry later.
- ``AuthError``: the device or its host key said no. Never retried automatically.
- ``DeviceTimeout``: no complete answer within the deadline (also a built-in ``TimeoutError``).
- ``Disconnected``: the session dropped (device rebooted, cable pulled). Reconnect, then retry.
- ``ProtocolError``: the device answered something we cannot parse.
- ``CommandRejected``: the device understood and said no; carries its own code and text.
- ``Unsupported``: this model or driver cannot do that.

Library exceptions (socket, pyserial, paramiko, netmiko) are translated at the transport edge
with ``raise ... from`` so the original stays in ``__cause__``.
"""

from __future__ import annotations


class DeviceError(Exception):
    """Root of every device-facing failure."""

    #: Whether the agent's device session may retry the operation after reconnecting.
    retryable: bool = False

    def __init__(self, message: str, *, device: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.device = device

    def __str__(self) -> str:
        return f"{self.device}: {self.message}" if self.device else self.message

    @property
    def reason(self) -> str:
        """A short machine-friendly name of the failure class, e.g. ``timeout``."""
        return _REASONS.get(type(self), type(self).__name__)


class ConnectError(DeviceError):
    retryable = True


class AuthError(DeviceError):
    retryable = False


class HostKeyError(AuthError):
    """The SSH host key was unknown or did not match the pinned one."""


class DeviceTimeout(DeviceError, TimeoutError):
    retryable = True

    def __init__(self, message: str, *, device: str | None = None, partial: bytes = b"") -> None:
        super().__init__(message, device=device)
        #: What had arrived before the deadline (already discarded from the transport buffer).
        self.partial = partial


class Disconnected(DeviceError):
    retryable = True


class ProtocolError(DeviceError):
    def __init__(self, message: str, *, device: str | None = None, data: bytes | str | None = None) -> None:
        super().__init__(message, device=device)
        self.data = data


class CommandRejected(DeviceError):
    """The device refused a command; ``code`` is its own code (``E13``, ``60 02``, ``ERR2``)."""

    def __init__(self, code: str, text: str = "", *, device: str | None = None,
                 command: str | None = None) -> None:
        message = f"rejected {code}" + (f": {text}" if text else "")
        if command:
            message += f" (command {command!r})"
        super().__init__(message, device=device)
        self.code = code
        self.text = text
        self.command = command


class Unsupported(DeviceError):
    pass


_REASONS: dict[type, str] = {
    DeviceError: "device_error",
    ConnectError: "connect_failed",
    AuthError: "auth_failed",
    HostKeyError: "host_key_refused",
    DeviceTimeout: "timeout",
    Disconnected: "disconnected",
    ProtocolError: "protocol_error",
    CommandRejected: "rejected",
    Unsupported: "unsupported",
}

__all__ = [
    "AuthError",
    "CommandRejected",
    "ConnectError",
    "DeviceError",
    "DeviceTimeout",
    "Disconnected",
    "HostKeyError",
    "ProtocolError",
    "Unsupported",
]
