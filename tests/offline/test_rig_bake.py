"""bake --profile: the bake JSONL carries the rig profile's channels; without a profile nothing changes."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import numpy as np
import pytest
import soundfile as sf

from bridge.cli import main
from bridge.config import load_config
from bridge.face import load_profile
from bridge.offline.bake import BakeSettings, make_take
from bridge.offline.exports import ExportOptions
from bridge.offline.manifest import settings_digest
from engines.common.avatar_wire import load_bake_jsonl
from tests.conftest import EXAMPLE_WAV, ROOT

SCHEMA = ROOT / "schemas" / "bake.v1.schema.json"

MY_PROFILE = """\
name = "mine"
[channels.Mouth_Open]
from = { jawOpen = 1.0 }
gain = 2.0
[channels.Lips_Round]
from = { mouthPucker = 0.5, mouthFunnel = 0.5 }
curve = "smoothstep"
[channels.Head_Turn]
from = { "joint.head_yaw_rad" = 1.0 }
min = -1.0
"""


@pytest.fixture(scope="module")
def speech_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1.2 s of the bundled example clip (speech from 0.3 s on)."""
    x, rate = sf.read(str(EXAMPLE_WAV), dtype="float32")
    path = tmp_path_factory.mktemp("audio") / "line.wav"
    sf.write(str(path), x[: int(1.2 * rate)], rate, subtype="PCM_16")
    return path


def bake_lines(src: Path, out: Path, *flags: str) -> list[str]:
    assert main(["bake", str(src), "-o", str(out), "--no-progress", *flags]) == 0
    return out.read_text().splitlines()


def expected_rig(src: Path, profile: str) -> list[dict[str, float]]:
    """The profile applied to the poses of the same bake, computed apart from the export."""
    cfg = load_config(None, {"face": {"profile": profile}})
    samples, rate = sf.read(str(src), dtype="float32")
    take, _ = make_take(src, samples, rate, BakeSettings(cfg, ("jsonl",), ExportOptions(), 0.0), None)
    p = load_profile(profile)
    return [p.apply(f.pose) for f in take.frames]


def assert_rig_matches(lines: list[str], expected: list[dict[str, float]]) -> None:
    assert len(lines) == len(expected)
    for line, want in zip(lines, expected, strict=True):
        got = json.loads(line)["rig"]
        assert list(got) == list(want)  # every channel, in the profile's order
        assert np.allclose(list(got.values()), list(want.values()), rtol=0, atol=1.01e-4)  # rounded to 1e-4


def test_facegood_profile_adds_its_channels_to_every_line(speech_clip: Path, tmp_path: Path) -> None:
    plain = bake_lines(speech_clip, tmp_path / "plain.jsonl")
    rigged = bake_lines(speech_clip, tmp_path / "facegood.jsonl", "--profile", "facegood")
    assert not any("rig" in json.loads(line) for line in plain)
    expected = expected_rig(speech_clip, "facegood")
    assert len(expected[0]) == len(load_profile("facegood").names) == 116
    assert_rig_matches(rigged, expected)
    assert max(line["mouth_stretch_c"] for line in expected) > 0.05  # the rig's jaw channel moves
    # The profile only adds a field: everything else is the default bake, character for character.
    for a, b in zip(plain, rigged, strict=True):
        assert b.startswith(a[:-1] + ',"rig":{')
    jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text())).validate(json.loads(rigged[-1]))
    # The engines' shared reader (Blender, Maya) ignores the field.
    assert load_bake_jsonl(str(tmp_path / "facegood.jsonl")) == load_bake_jsonl(str(tmp_path / "plain.jsonl"))


def test_a_profile_file_works_end_to_end(speech_clip: Path, tmp_path: Path) -> None:
    profile = tmp_path / "mine.toml"
    profile.write_text(MY_PROFILE)
    lines = bake_lines(speech_clip, tmp_path / "mine.jsonl", "--profile", str(profile))
    assert_rig_matches(lines, expected_rig(speech_clip, str(profile)))
    heads = [json.loads(line)["rig"]["Head_Turn"] for line in lines]
    assert min(heads) < 0.0  # the file's own min, not the 0 default, bounds the channel


def test_changing_the_profile_bakes_again(
    speech_clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "take.jsonl"
    bake_lines(speech_clip, out)
    capsys.readouterr()
    assert "rig" in json.loads(bake_lines(speech_clip, out, "--profile", "vrm1")[0])
    assert "bake: 1 baked, 0 up to date" in capsys.readouterr().err
    bake_lines(speech_clip, out, "--profile", "vrm1")
    assert "1 of 1 files are up to date" in capsys.readouterr().err


def test_an_edited_profile_file_changes_the_settings_digest(tmp_path: Path) -> None:
    profile = tmp_path / "mine.toml"
    profile.write_text(MY_PROFILE)
    cfg = load_config(None, {"face": {"profile": str(profile)}})
    first = settings_digest(cfg, {}, None)
    assert settings_digest(cfg, {}, None) == first
    profile.write_text(MY_PROFILE.replace("gain = 2.0", "gain = 1.5"))
    assert settings_digest(cfg, {}, None) != first


def test_a_bad_profile_file_stops_the_bake_with_one_line(
    speech_clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profile = tmp_path / "bad.toml"
    profile.write_text("[channels.Mouth_Open]\nfrom = { jawOpn = 1.0 }\n")
    out = tmp_path / "take.jsonl"
    assert main(["bake", str(speech_clip), "-o", str(out), "--profile", str(profile), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown source 'jawOpn'" in err[0]
    assert not out.exists()
