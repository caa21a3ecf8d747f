"""Rig-profile channels on the wire: the ZeroMQ face message carries them, the fixed formats do not."""

from __future__ import annotations

import dataclasses
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import msgpack
import pytest
import zmq

from bridge.face import load_profile
from bridge.transports import encoding as enc
from bridge.transports.golden import GOLDEN_DIR, rig_frames, sample_frames
from tests.conftest import EXAMPLE_WAV, ROOT

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def _payload(data: bytes) -> dict[str, object]:
    out: dict[str, object] = msgpack.unpackb(data.partition(b"\0")[2], raw=False)
    return out


def test_face_message_has_rig_only_with_a_profile() -> None:
    plain, rigged = sample_frames()[1], rig_frames()[0]
    assert plain.rig is None and "rig" not in _payload(enc.encode_zmq_face(plain))
    rig = _payload(enc.encode_zmq_face(rigged))["rig"]
    assert rigged.rig is not None
    assert isinstance(rig, dict) and list(rig) == list(rigged.rig.names)  # the profile's order
    assert list(rig.values()) == rigged.rig.values.tolist()
    # The map gains one key at its end; the rest is the plain message byte for byte, so receivers
    # that look only at the keys they know see no change.
    plain_bytes = enc.encode_zmq_face(plain)
    rigged_bytes = enc.encode_zmq_face(rigged)
    head = len(enc.zmq_topic("face", plain.subject))
    assert rigged_bytes[head] == plain_bytes[head] + 1  # fixmap header: one more key
    assert rigged_bytes[head + 1 : len(plain_bytes)] == plain_bytes[head + 1 :]
    assert rigged_bytes[len(plain_bytes) :].startswith(msgpack.packb("rig"))


def test_rig_values_are_float32_on_the_wire() -> None:
    data = (GOLDEN_DIR / "zmq_face_rig_0.bin").read_bytes()
    payload = data.partition(b"\0")[2]
    rig = payload[payload.index(b"\xa3rig") + 4 :]
    names = rig_frames()[0].rig.names  # type: ignore[union-attr]
    assert rig[0] == 0x80 + len(names)  # fixmap
    pos = 1
    for name in names:
        key = name.encode()
        assert rig[pos : pos + 1 + len(key)] == bytes([0xA0 + len(key)]) + key
        pos += 1 + len(key)
        assert rig[pos] == 0xCA  # float32
        pos += 5
    assert pos == len(rig)


@pytest.mark.parametrize(
    "encode",
    [
        lambda f: enc.encode_zmq_ema(f),
        lambda f: b"".join(enc.encode_osc_packet(f, names=True, bundle=True)),
        lambda f: b"".join(enc.encode_vmc_frame(f, "both", bundle=True)),
        lambda f: enc.encode_livelinkface(f),
    ],
    ids=["zmq-ema", "osc", "vmc", "livelinkface"],
)
def test_fixed_formats_do_not_carry_rig_channels(encode) -> None:  # type: ignore[no-untyped-def]
    rigged = rig_frames()[0]
    assert encode(rigged) == encode(dataclasses.replace(rigged, rig=None))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_run_with_a_profile_publishes_rig_to_a_real_subscriber() -> None:
    port = _free_port()
    ctx = zmq.Context.instance()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.RECONNECT_IVL, 10)  # join as soon as the bridge binds: --fast is over quickly
    sub.setsockopt(zmq.RCVHWM, 100000)
    sub.setsockopt(zmq.SUBSCRIBE, enc.zmq_topic("face", "avatar"))
    sub.connect(f"tcp://127.0.0.1:{port}")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bridge", "run", "--input", str(EXAMPLE_WAV), "--fast", "--no-status",
         "--zmq", f"tcp://127.0.0.1:{port}", "--profile", "vrm1"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    got: list[dict[str, object]] = []
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        while sub.poll(50):
            got.append(_payload(sub.recv()))
    while sub.poll(200):
        got.append(_payload(sub.recv()))
    _, err = proc.communicate(timeout=10)
    sub.close(linger=0)
    assert proc.returncode == 0, err
    assert got, "no face message arrived"
    names = list(load_profile("vrm1").names)
    for msg in got:
        rig = msg["rig"]
        assert isinstance(rig, dict) and list(rig) == names
    assert max(float(m["rig"]["aa"]) for m in got) > 0.05  # type: ignore[index]  # the mouth moves
    schema = json.loads((SCHEMAS / "zmq-face.v1.schema.json").read_text(encoding="utf-8"))
    jsonschema.validate(got[-1], schema)


def test_run_with_a_bad_profile_exits_2_with_one_line(tmp_path: Path) -> None:
    profile = tmp_path / "bad.toml"
    profile.write_text("[channels.Mouth_Open]\ncurve = 'wobbly'\n")
    p = subprocess.run(
        [sys.executable, "-m", "bridge", "run", "--input", str(EXAMPLE_WAV), "--fast", "--no-zmq", "--no-status",
         "--profile", str(profile)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "curve must be one of" in lines[0] and "Traceback" not in p.stderr
