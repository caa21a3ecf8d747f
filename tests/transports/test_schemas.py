"""JSON Schemas in schemas/ accept every golden ZeroMQ payload and control message, and reject bad ones."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import msgpack
import pytest

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
GOLDEN = SCHEMAS / "golden"
MANIFEST = json.loads((GOLDEN / "manifest.json").read_text(encoding="utf-8"))


def _validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _payloads(protocol: str) -> list[Any]:
    out = []
    for entry in MANIFEST["files"]:
        if entry["protocol"] == protocol:
            data = (GOLDEN / entry["file"]).read_bytes()
            if protocol.startswith("zmq-"):
                data = data.partition(b"\0")[2]
            out.append(msgpack.unpackb(data, raw=False))
    assert out
    return out


@pytest.mark.parametrize(
    ("protocol", "schema"),
    [
        ("zmq-face", "zmq-face.v1.schema.json"),
        ("zmq-ema", "zmq-ema.v1.schema.json"),
        ("zmq-status", "zmq-status.v1.schema.json"),
        ("control-zmq-request", "control-request.v1.schema.json"),
        ("control-zmq-reply", "control-reply.v1.schema.json"),
    ],
)
def test_golden_payloads_validate(protocol: str, schema: str) -> None:
    validator = _validator(schema)
    for payload in _payloads(protocol):
        validator.validate(payload)


def test_face_schema_rejects_short_arrays_and_out_of_range_values() -> None:
    validator = _validator("zmq-face.v1.schema.json")
    good = _payloads("zmq-face")[1]
    for key, bad in (("bs", good["bs"][:51]), ("voice", 1.5), ("viseme", "xx"), ("v", 2)):
        assert not validator.is_valid(good | {key: bad}), key
    assert not validator.is_valid(good | {"extra": 1})


def test_control_request_schema_rejects_invalid_requests() -> None:
    validator = _validator("control-request.v1.schema.json")
    for bad in (
        {"v": 1, "cmd": "mood", "mood": "bored", "intensity": 0.5},
        {"v": 1, "cmd": "mood", "mood": "happy", "intensity": 1.5},
        {"v": 1, "cmd": "mood", "mood": "happy", "intensity": 0.5, "transition_s": None},
        {"v": 1, "cmd": "mute", "muted": 1},
        {"v": 1, "cmd": "subject", "subject": ""},
        {"v": 1, "cmd": "exec", "code": "import os"},
        {"v": 1, "cmd": "status", "extra": True},
    ):
        assert not validator.is_valid(bad), bad
