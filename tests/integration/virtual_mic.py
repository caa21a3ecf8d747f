"""A real PulseAudio server with a null sink whose monitor serves as the microphone."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def start_pulse(env: dict[str, str], channels: int = 1) -> None:
    """Start the private PulseAudio daemon of ``env`` (again, after a kill: same runtime dir and socket),
    its microphone of ``channels`` channels."""
    subprocess.run(
        ["pulseaudio", "-n", "--daemonize=yes", "--exit-idle-time=-1", "--log-target=stderr",
         "--load=module-native-protocol-unix",
         f"--load=module-null-sink sink_name=vmic rate=48000 channels={channels}"],
        env=env, check=True, capture_output=True,
    )  # fmt: skip
    for _ in range(50):
        if subprocess.run(["pactl", "info"], env=env, capture_output=True).returncode == 0:
            break
        time.sleep(0.1)
    subprocess.run(["pactl", "set-default-source", "vmic.monitor"], env=env, check=True, capture_output=True)
    subprocess.run(["pactl", "set-default-sink", "vmic"], env=env, check=True, capture_output=True)


@contextmanager
def pulse_virtual_mic(channels: int = 1) -> Iterator[dict[str, str]]:
    """Start a private PulseAudio daemon (a microphone of ``channels`` channels: what is played to the
    sink, as played); yield the environment that points clients at it."""
    missing = [tool for tool in ("pulseaudio", "pactl", "paplay") if shutil.which(tool) is None]
    if missing:
        raise RuntimeError(f"{', '.join(missing)} not installed: run scripts/setup.sh --dev")
    runtime = Path(tempfile.mkdtemp(prefix="pulse-"))
    runtime.chmod(0o700)
    env = dict(os.environ, XDG_RUNTIME_DIR=str(runtime), PULSE_SOURCE="vmic.monitor", PULSE_SINK="vmic")
    try:
        start_pulse(env, channels)
        yield env
    finally:
        subprocess.run(["pulseaudio", "--kill"], env=env, capture_output=True)
        shutil.rmtree(runtime, ignore_errors=True)
