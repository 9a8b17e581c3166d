"""Wearable-source errors, each carrying the data that names what went wrong.

Re-exported from `repfit.host.sources`; everything derives from `SourceError` so callers
(the host, the CLI) catch one family.
"""

from __future__ import annotations

from . import SourceError

__all__ = ["ConnectionLost", "DeviceNotFound", "DeviceRefused", "NoAdapter", "PacketError",
           "TransportError"]


class DeviceNotFound(SourceError):
    """No advertising device matched ``address`` (an address or a name) within the scan time."""

    def __init__(self, address: str, timeout_s: float | None = None) -> None:
        self.address = address
        self.timeout_s = timeout_s
        within = f" within {timeout_s:g} s" if timeout_s is not None else ""
        super().__init__(f"no supported BLE device matching {address!r} was found{within}")


class PacketError(SourceError):
    """A notification that cannot be decoded under ``profile`` (``length`` bytes)."""

    def __init__(self, profile: str, length: int, reason: str) -> None:
        self.profile = profile
        self.length = length
        self.reason = reason
        super().__init__(f"{profile} packet of {length} bytes rejected: {reason}")


class ConnectionLost(SourceError):
    """The device stayed unreachable after ``attempts`` reconnection attempts."""

    def __init__(self, address: str, attempts: int, cause: str) -> None:
        self.address = address
        self.attempts = attempts
        self.cause = cause
        super().__init__(
            f"gave up on {address!r} after {attempts} reconnection attempts (last: {cause})")


class TransportError(SourceError):
    """A BLE operation failed at the transport (bleak's `BleakError`, wrapped with context)."""

    def __init__(self, operation: str, address: str, cause: str) -> None:
        self.operation = operation
        self.address = address
        self.cause = cause
        super().__init__(f"{operation} on {address!r} failed: {cause}")


class NoAdapter(SourceError):
    """No usable Bluetooth adapter or stack on this machine (not worth retrying)."""

    def __init__(self, cause: str) -> None:
        self.cause = cause
        super().__init__(f"no usable Bluetooth adapter ({cause})")


class DeviceRefused(SourceError):
    """The device refused, ignored or answered a setting so that its stream cannot be read
    at the right scale; the stream stops instead of producing wrong values."""

    def __init__(self, device: str, what: str, value: object) -> None:
        self.device = device
        self.what = what
        self.value = value
        super().__init__(f"{device}: {what}: {value}; stream stopped")
