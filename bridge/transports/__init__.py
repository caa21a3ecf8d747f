"""Publishers and the control channel: ZeroMQ, OSC, VMC, Live Link Face; wire layouts live in encoding.py."""

from bridge.transports.control import ControlTarget
from bridge.transports.messages import BridgeStatus
from bridge.transports.sinks import build_control, build_sinks, log_recording_failures, log_send_counts

__all__ = ["BridgeStatus", "ControlTarget", "build_control", "build_sinks", "log_recording_failures", "log_send_counts"]
