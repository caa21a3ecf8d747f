"""The one error hierarchy; the CLI maps every BridgeError to a one-line message and exit code."""


class BridgeError(Exception):
    """Base of every error the bridge raises on purpose."""

    exit_code = 1


class ConfigError(BridgeError):
    """Invalid configuration or command-line value; the message names the field."""

    exit_code = 2


class AudioError(BridgeError):
    """Unreadable, corrupt, empty or unsupported audio."""


class DeviceError(BridgeError):
    """Missing, busy or vanished audio device."""


class ModelError(BridgeError):
    """Missing or unusable model weights."""


class TransportError(BridgeError):
    """A publisher or control endpoint could not be set up (e.g. port in use)."""


class ProtocolError(BridgeError):
    """A malformed message on the wire (decoding side)."""
