"""Every export format checked against its published layout."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import signal
from dataclasses import replace
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.errors import ConfigError
from bridge.frames import ARKIT_NAMES, EMA_NAMES, JOINT_NAMES, VISEMES
from bridge.offline.exports import (
    FORMATS,
    ExportOptions,
    bvh,
    check_dat_frame_rate,
    check_extended_shapes,
    llf_csv,
    parse_formats,
    rhubarb,
)
from bridge.offline.take import Phone
from tests.offline.helpers import pose, speech_like_take, take_from_poses

SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / "bake.v1.schema.json"

# The header the Live Link Face app writes (nmfisher/blender_livelinkface LIVE_LINK_FACE_HEADER).
LLF_HEADER = (
    "Timecode,BlendShapeCount,EyeBlinkLeft,EyeLookDownLeft,EyeLookInLeft,EyeLookOutLeft,EyeLookUpLeft,"
    "EyeSquintLeft,EyeWideLeft,EyeBlinkRight,EyeLookDownRight,EyeLookInRight,EyeLookOutRight,EyeLookUpRight,"
    "EyeSquintRight,EyeWideRight,JawForward,JawRight,JawLeft,JawOpen,MouthClose,MouthFunnel,MouthPucker,"
    "MouthRight,MouthLeft,MouthSmileLeft,MouthSmileRight,MouthFrownLeft,MouthFrownRight,MouthDimpleLeft,"
    "MouthDimpleRight,MouthStretchLeft,MouthStretchRight,MouthRollLower,MouthRollUpper,MouthShrugLower,"
    "MouthShrugUpper,MouthPressLeft,MouthPressRight,MouthLowerDownLeft,MouthLowerDownRight,MouthUpperUpLeft,"
    "MouthUpperUpRight,BrowDownLeft,BrowDownRight,BrowInnerUp,BrowOuterUpLeft,BrowOuterUpRight,CheekPuff,"
    "CheekSquintLeft,CheekSquintRight,NoseSneerLeft,NoseSneerRight,TongueOut,HeadYaw,HeadPitch,HeadRoll,"
    "LeftEyeYaw,LeftEyePitch,LeftEyeRoll,RightEyeYaw,RightEyePitch,RightEyeRoll"
)


def render(fmt: str, take, options: ExportOptions | None = None) -> str:  # type: ignore[no-untyped-def]
    out = io.StringIO()
    FORMATS[fmt].write(take, options or ExportOptions(), out)
    return out.getvalue()


# --- JSON Lines (the bake contract) ------------------------------------------------------------


def test_jsonl_lines_follow_the_bake_contract_and_schema() -> None:
    take = speech_like_take()
    lines = render("jsonl", take).splitlines()
    assert len(lines) == len(take.frames)
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))
    for k, line in enumerate(lines):
        obj = json.loads(line)
        validator.validate(obj)
        assert list(obj["blendshapes"]) == list(ARKIT_NAMES)
        assert len(obj["ema"]) == len(EMA_NAMES)
        assert obj["viseme"] in VISEMES
        assert math.isclose(obj["t"], take.frames[k].t_s, abs_tol=1e-6)
        assert list(obj["joints"]) == list(JOINT_NAMES)
    mid = json.loads(lines[int(0.95 * 60)])  # inside the /aa/
    assert mid["viseme"] == "aa" and mid["blendshapes"]["jawOpen"] == pytest.approx(0.7, abs=1e-4)
    assert mid["joints"]["jaw_open_rad"] == pytest.approx(0.28, abs=1e-4)


def test_jsonl_schema_rejects_a_broken_frame() -> None:
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))
    line = render("jsonl", speech_like_take()).splitlines()[0]
    validator.validate(json.loads(line))
    obj = json.loads(line)
    del obj["blendshapes"]["tongueOut"]
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(obj)
    obj = json.loads(line)
    obj["viseme"] = "XX"
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(obj)
    obj = json.loads(line)
    obj["blendshapes"]["jawOpen"] = 1.5
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(obj)


def test_jsonl_is_read_by_the_engine_decoder() -> None:
    from engines.common.avatar_wire import parse_bake_line

    take = speech_like_take()
    line = render("jsonl", take).splitlines()[40]
    frame = parse_bake_line(line)
    assert frame.t_s == pytest.approx(take.frames[40].t_s)
    assert frame.viseme == take.frames[40].pose.viseme


# --- Live Link Face CSV ------------------------------------------------------------------------


def test_llf_csv_header_is_the_apps_column_order() -> None:
    text = render("llf-csv", speech_like_take())
    assert text.splitlines()[0] == LLF_HEADER
    assert llf_csv.BLENDSHAPE_COUNT == 61 == len(LLF_HEADER.split(",")) - 2


def test_llf_csv_rows_are_the_udp_values_reordered() -> None:
    from bridge.transports.encoding import LLF_CURVE_NAMES, llf_values

    take = speech_like_take()
    rows = list(csv.DictReader(io.StringIO(render("llf-csv", take))))
    for k in (0, 45, 80):
        udp = dict(zip(LLF_CURVE_NAMES, llf_values(take.frames[k]), strict=True))
        for name, value in udp.items():
            assert float(rows[k][name]) == pytest.approx(value, abs=1e-6)


def test_llf_csv_values_land_in_the_named_columns() -> None:
    take = take_from_poses(
        [
            pose(
                shapes={"jawLeft": 0.3, "mouthRight": 0.6, "jawOpen": 0.5},
                joints={"head_yaw_rad": 0.2, "eye_right_pitch_rad": -0.1},
            )
        ]
        * 3,
        fps=30,
    )
    rows = list(csv.DictReader(io.StringIO(render("llf-csv", take))))
    assert len(rows) == 3
    row = rows[1]
    assert float(row["JawLeft"]) == pytest.approx(0.3) and float(row["JawRight"]) == 0.0
    assert float(row["MouthRight"]) == pytest.approx(0.6) and float(row["MouthLeft"]) == 0.0
    assert float(row["JawOpen"]) == pytest.approx(0.5)
    # Angles as the Live Link Face publisher sends them: -1..1 with 1 = 90 degrees, eyes with the
    # app's signs (looking down, eye_right_pitch_rad < 0, is positive pitch in its recordings).
    assert float(row["HeadYaw"]) == pytest.approx(0.2 / (math.pi / 2), abs=1e-6)
    assert float(row["RightEyePitch"]) == pytest.approx(0.1 / (math.pi / 2), abs=1e-6)
    assert float(row["LeftEyeRoll"]) == 0.0
    assert row["BlendShapeCount"] == "61"
    assert row["Timecode"] == "00:00:00:02.000"  # the second frame of a 30 fps take, in 60ths


@pytest.mark.parametrize(
    ("t_s", "expected"),
    [
        (0.0, "00:00:00:00.000"),
        (1.5, "00:00:01:30.000"),
        (3661.25, "01:01:01:15.000"),
        (59.999, "00:00:59:59.940"),
        (7 / 30, "00:00:00:14.000"),  # a 30 fps take's 8th frame: FF steps by 2, as the app writes it
        (0.97, "00:00:00:58.200"),  # a 100 fps frame: FF stays below 60
    ],
    ids=["start", "mid-second", "hours", "sub-frame", "30 fps", "100 fps"],
)
def test_llf_timecode_counts_60ths_of_a_second(t_s: float, expected: str) -> None:
    assert llf_csv.timecode(t_s) == expected


# --- Rhubarb TSV / JSON ------------------------------------------------------------------------


def test_rhubarb_tsv_follows_rhubarbs_layout() -> None:
    take = speech_like_take()
    lines = render("rhubarb-tsv", take).splitlines()
    rows = [line.split("\t") for line in lines]
    assert all(len(r) == 2 for r in rows)
    times = [float(r[0]) for r in rows]
    shapes = [r[1] for r in rows]
    assert rows[0] == ["0.00", "X"]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert all(len(r[0].split(".")[1]) == 2 for r in rows)
    assert rows[-1] == [f"{math.floor(take.duration_s * 100 + 1e-6) / 100:.2f}", "X"]
    assert set(shapes) <= set(rhubarb.SHAPES)
    # /m/ -> A, wide /aa/ -> D (with a C tween before it), /ou/ -> F (E tween), /f/ -> G, rest X.
    assert [s for s in shapes if s != "X"] == ["A", "C", "D", "E", "F", "G"]
    first_a = times[shapes.index("A")]
    assert abs(first_a - 0.5) <= 0.011  # frame 30 (t = 0.5 s) is the first /m/ frame


def test_rhubarb_json_layout_matches_the_tsv() -> None:
    take = speech_like_take()
    doc = json.loads(render("rhubarb-json", take))
    assert set(doc) == {"metadata", "mouthCues"}
    duration = math.floor(take.duration_s * 100 + 1e-6) / 100
    assert doc["metadata"] == {"soundFile": "/clips/line 1.wav", "duration": duration}
    cues = doc["mouthCues"]
    assert cues[0]["start"] == 0.0 and cues[-1]["end"] == doc["metadata"]["duration"]
    for a, b in zip(cues, cues[1:], strict=False):
        assert a["end"] == b["start"] and a["value"] != b["value"]
    for c in cues:
        assert set(c) == {"start", "end", "value"} and c["end"] - c["start"] >= rhubarb.MIN_CUE_S - 1e-9
    tsv = [line.split("\t") for line in render("rhubarb-tsv", take).splitlines()]
    assert [(float(t), s) for t, s in tsv[:-1]] == [(c["start"], c["value"]) for c in cues]


@pytest.mark.parametrize("extended", ["GHX", ""], ids=["X rest", "A rest"])
def test_rhubarb_a_clip_under_10_ms_is_one_cue(extended: str) -> None:
    """The TSV wrote ``0.00 X`` twice (the JSON's zero-length placeholder cue, then the end line);
    Rhubarb's TSV exporter writes the end line only, its JSON exporter the one zero-length cue."""
    take = take_from_poses([pose()], fps=200, duration_s=0.005)
    rest = "X" if extended else "A"
    options = ExportOptions(extended_shapes=extended)
    assert render("rhubarb-tsv", take, options) == f"0.00\t{rest}\n"
    doc = json.loads(render("rhubarb-json", take, options))
    assert doc["mouthCues"] == [{"start": 0.0, "end": 0.0, "value": rest}] and doc["metadata"]["duration"] == 0.0


def test_moho_dat_is_rhubarbs_switch_file() -> None:
    """Rhubarb's ``-f dat``: frame = 1 + int(rate x start), a cue starting in the previous cue's frame is left
    out, and the rest shape closes at the end (one frame later when it would share the last frame)."""
    phones = (Phone("SIL", 0.0, 0.3), Phone("HH", 0.3, 0.38), Phone("AY", 0.38, 0.62), Phone("L", 0.62, 0.75),
              Phone("SIL", 0.75, 1.0))  # fmt: skip
    take = take_from_poses([pose()] * 60, duration_s=1.0, phones=phones)  # cues X 0, C .3, D .38, H .62, X .75
    assert render("moho-dat", take) == "MohoSwitch1\n1 X\n8 C\n10 D\n15 H\n19 X\n25 X\n"
    pb = ExportOptions(dat_frame_rate=100.0, dat_preston_blair=True)
    assert render("moho-dat", take, pb) == "MohoSwitch1\n1 rest\n31 E\n39 AI\n63 L\n76 rest\n101 rest\n"
    tsv = [line.split("\t") for line in render("rhubarb-tsv", speech_like_take()).splitlines()]
    dat = render("moho-dat", speech_like_take(), ExportOptions(dat_frame_rate=100.0)).splitlines()
    # Truncated as Rhubarb truncates: 100 x 1.15 is 114.99999999999999, frame 115.
    assert dat[0] == "MohoSwitch1" and [d.split() for d in dat[1:]] == [[str(1 + int(100 * float(t))), v]
                                                                         for t, v in tsv]  # fmt: skip
    assert check_dat_frame_rate(30) == 30
    with pytest.raises(ConfigError, match="between 24 and 100"):
        check_dat_frame_rate(12)


def test_rhubarb_sound_file_is_absolute_as_rhubarb_writes_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``soundFile`` was the path as typed; Rhubarb writes ``absolute(inputFilePath)``: the working
    directory joined in front, with ``..`` and symlinks kept."""
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    take = replace(speech_like_take(), source=Path("../vo/line 1.wav"))
    doc = json.loads(render("rhubarb-json", take))
    assert doc["metadata"]["soundFile"] == f"{tmp_path}/work/../vo/line 1.wav"
    take = replace(take, source=Path("/clips/line 1.wav"))
    assert json.loads(render("rhubarb-json", take))["metadata"]["soundFile"] == "/clips/line 1.wav"
    # A Latin-1 name: Python holds its byte as a lone surrogate, which strict JSON readers refuse.
    text = render("rhubarb-json", replace(take, source=Path(os.fsdecode(b"/clips/caf\xe9.wav"))))
    assert "\\udc" not in text and json.loads(text)["metadata"]["soundFile"] == "/clips/caf\ufffd.wav"


def test_rhubarb_basic_shapes_only() -> None:
    doc = json.loads(render("rhubarb-json", speech_like_take(), ExportOptions(extended_shapes="")))
    values = {c["value"] for c in doc["mouthCues"]}
    assert values <= set("ABCDEF") and "G" not in values
    last = render("rhubarb-tsv", speech_like_take(), ExportOptions(extended_shapes="")).splitlines()[-1]
    assert last.endswith("\tA")


def test_rhubarb_cues_from_aligned_phones() -> None:
    phones = (
        Phone("SIL", 0.0, 0.3),
        Phone("HH", 0.3, 0.38),
        Phone("AY", 0.38, 0.62),
        Phone("L", 0.62, 0.75),
        Phone("SIL", 0.75, 1.0),
    )
    take = take_from_poses([pose()] * 60, duration_s=1.0, phones=phones)
    cues = rhubarb.mouth_cues(take)
    assert [(c.start_s, c.value) for c in cues] == [(0.0, "X"), (0.3, "C"), (0.38, "D"), (0.62, "H"), (0.75, "X")]


def test_short_flickers_are_absorbed() -> None:
    poses = [pose("aa", 0.8, 1.0)] * 12 + [pose("PP", 0.0, 1.0)] + [pose("aa", 0.8, 1.0)] * 12
    cues = rhubarb.mouth_cues(take_from_poses(poses, fps=60))
    assert [c.value for c in cues] == ["D"]


# --- Oculus visemes ----------------------------------------------------------------------------


def test_viseme_track_columns_and_weights() -> None:
    take = speech_like_take()
    rows = list(csv.reader(io.StringIO(render("visemes", take))))
    assert rows[0] == ["time", "sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR", "aa", "E", "ih", "oh", "ou"]
    body = np.array(rows[1:], dtype=float)
    assert body.shape == (len(take.frames), 16)
    np.testing.assert_allclose(body[:, 1:], take.visemes(), atol=1e-4)
    np.testing.assert_allclose(body[:, 0], take.times_s, atol=1e-6)


# --- BVH ---------------------------------------------------------------------------------------


def parse_bvh(text: str) -> tuple[list[tuple[str, int]], int, float, np.ndarray]:
    """A small BVH reader: (joint, channel count) in file order, frames, frame time, motion."""
    tokens = text.split()
    assert tokens[0] == "HIERARCHY"
    joints: list[tuple[str, int]] = []
    depth, i, name = 0, 1, ""
    while tokens[i] != "MOTION":
        tok = tokens[i]
        if tok in ("ROOT", "JOINT"):
            name = tokens[i + 1]
            i += 2
        elif tok == "End":
            assert tokens[i + 1] == "Site"
            name = ""
            i += 2
        elif tok == "{":
            depth += 1
            i += 1
        elif tok == "}":
            depth -= 1
            i += 1
        elif tok == "OFFSET":
            [float(x) for x in tokens[i + 1 : i + 4]]
            i += 4
        elif tok == "CHANNELS":
            n = int(tokens[i + 1])
            assert all(c.endswith(("position", "rotation")) for c in tokens[i + 2 : i + 2 + n])
            joints.append((name, n))
            i += 2 + n
        else:
            raise AssertionError(f"unexpected token {tok!r}")
    assert depth == 0
    assert tokens[i + 1] == "Frames:" and tokens[i + 3] == "Frame" and tokens[i + 4] == "Time:"
    n_frames, frame_time = int(tokens[i + 2]), float(tokens[i + 5])
    motion = np.array(tokens[i + 6 :], dtype=float)
    n_channels = sum(n for _, n in joints)
    assert motion.size == n_frames * n_channels
    return joints, n_frames, frame_time, motion.reshape(n_frames, n_channels)


def test_bvh_hierarchy_and_motion() -> None:
    take = take_from_poses(
        [
            pose(
                joints={
                    "jaw_open_rad": 0.2,
                    "head_yaw_rad": 0.1,
                    "head_pitch_rad": 0.05,
                    "head_roll_rad": -0.02,
                    "eye_left_yaw_rad": 0.3,
                    "eye_right_pitch_rad": 0.15,
                }
            )
        ]
        * 5,
        fps=30,
    )
    joints, n, frame_time, motion = parse_bvh(render("bvh", take))
    assert joints == [("Head", 6), ("Jaw", 3), ("LeftEye", 3), ("RightEye", 3)]
    assert n == 5 and frame_time == pytest.approx(1 / 30, abs=1e-10)  # Blender reads its scene rate from it
    row = motion[0]
    np.testing.assert_allclose(row[:3], 0.0)
    assert row[5] == pytest.approx(np.degrees(0.1), abs=1e-3)  # head Yrotation = yaw
    assert row[4] == pytest.approx(-np.degrees(0.05), abs=1e-3)  # head Xrotation = -pitch
    assert row[3] == pytest.approx(np.degrees(0.02), abs=1e-3)  # head Zrotation = -roll
    assert row[7] == pytest.approx(np.degrees(0.2), abs=1e-3)  # jaw opens with +X
    assert row[11] == pytest.approx(np.degrees(0.3), abs=1e-3)  # left eye yaw
    assert row[13] == pytest.approx(-np.degrees(0.15), abs=1e-3)  # right eye pitch
    assert bvh.JOINTS == ("Head", "Jaw", "LeftEye", "RightEye")


# --- format selection --------------------------------------------------------------------------


def test_parse_formats() -> None:
    assert parse_formats("jsonl,bvh") == ("jsonl", "bvh")
    assert parse_formats(["rhubarb-tsv", "jsonl,rhubarb-tsv"]) == ("rhubarb-tsv", "jsonl")
    with pytest.raises(ConfigError, match="unknown format 'mp4'"):
        parse_formats("jsonl,mp4")
    assert check_extended_shapes("XG") == "GX"
    with pytest.raises(ConfigError):
        check_extended_shapes("GZ")


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(VISEMES), st.floats(0.0, 1.0), st.floats(0.0, 1.0), st.integers(1, 12)),
        min_size=1,
        max_size=20,
    ),
    st.sampled_from(["GHX", "", "X", "GH"]),
)
def test_rhubarb_cues_always_tile_the_clip(runs: list[tuple[str, float, float, int]], extended: str) -> None:
    poses = [pose(v, jaw, voice) for v, jaw, voice, n in runs for _ in range(n)]
    take = take_from_poses(poses, fps=60)
    cues = rhubarb.mouth_cues(take, extended)
    end = math.floor(take.duration_s * 100 + 1e-6) / 100  # truncated to centiseconds
    assert cues[0].start_s == 0.0 and cues[-1].end_s == pytest.approx(end)
    allowed = set("ABCDEF") | set(extended)
    for a, b in zip(cues, cues[1:], strict=False):
        assert a.end_s == b.start_s and a.value != b.value
    for c in cues:
        assert c.value in allowed
        if len(cues) > 1:
            assert c.end_s - c.start_s >= rhubarb.MIN_CUE_S - 1e-9


def _drop_short_by_rescanning(cues: list[rhubarb.MouthCue], min_s: float) -> list[rhubarb.MouthCue]:
    """The rule as first written (rescan the whole list after every merge): the oracle for the fast one."""
    cues = list(cues)
    while len(cues) > 1:
        lengths = [c.end_s - c.start_s for c in cues]
        i = int(np.argmin(lengths))
        if lengths[i] >= min_s - 1e-9:
            break
        prev_len = lengths[i - 1] if i > 0 else -1.0
        next_len = lengths[i + 1] if i + 1 < len(cues) else -1.0
        if prev_len >= next_len:
            cues[i - 1] = rhubarb.MouthCue(cues[i - 1].start_s, cues[i].end_s, cues[i - 1].value)
        else:
            cues[i + 1] = rhubarb.MouthCue(cues[i].start_s, cues[i + 1].end_s, cues[i + 1].value)
        del cues[i]
        merged: list[rhubarb.MouthCue] = []
        for c in cues:
            if merged and merged[-1].value == c.value:
                merged[-1] = rhubarb.MouthCue(merged[-1].start_s, c.end_s, c.value)
            else:
                merged.append(c)
        cues = merged
    return cues


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("ABCX"), st.integers(1, 9)), min_size=1, max_size=40))
def test_short_cues_are_dropped_as_by_the_rescanning_rule(runs: list[tuple[str, int]]) -> None:
    cues: list[rhubarb.MouthCue] = []
    t_cs = 0
    for value, length_cs in runs:  # centisecond lengths, as mouth_cues makes them: many ties
        if cues and cues[-1].value == value:
            continue
        cues.append(rhubarb.MouthCue(t_cs / 100, (t_cs + length_cs) / 100, value))
        t_cs += length_cs
    assert rhubarb._drop_short(cues, rhubarb.MIN_CUE_S) == _drop_short_by_rescanning(cues, rhubarb.MIN_CUE_S)


def _too_slow(*_: object) -> None:
    raise TimeoutError("dropping short cues does not scale with the take's length")


def test_an_hour_of_flickering_cues_is_cleaned_quickly() -> None:
    """360 000 one-frame cues (an hour at 100 fps): the rescanning rule needed hours for this."""
    rng = np.random.default_rng(5)
    values = rng.choice(list("ABCDEFX"), size=360_000)
    cues = [rhubarb.MouthCue(i / 100, (i + 1) / 100, str(v)) for i, v in enumerate(values)]
    cues = [c for i, c in enumerate(cues) if i == 0 or c.value != cues[i - 1].value]
    cues = [rhubarb.MouthCue(c.start_s, n.start_s, c.value) for c, n in zip(cues, cues[1:], strict=False)] + cues[-1:]
    signal.signal(signal.SIGALRM, _too_slow)
    signal.alarm(60)  # it takes about a second; the rescanning rule would run for hours
    try:
        out = rhubarb._drop_short(cues, rhubarb.MIN_CUE_S)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
    assert out[0].start_s == 0.0 and out[-1].end_s == pytest.approx(3600.0)
    assert all(b.end_s - b.start_s >= rhubarb.MIN_CUE_S - 1e-9 for b in out)


@pytest.mark.parametrize("fmt", ["jsonl", "bvh"])
def test_tiny_negative_values_are_written_as_zero_not_minus_zero(fmt: str) -> None:
    tiny = {"head_yaw_rad": -1e-7, "head_pitch_rad": -1e-9, "tongue_front": -1e-7, "jaw_open_rad": -1e-8}
    text = render(fmt, take_from_poses([pose(joints=tiny)] * 2, fps=30))
    assert re.search(r"-0\.0+(?![0-9])", text) is None  # "-0.0000" and the like


def test_rhubarb_shut_puckered_lips_are_f_and_shut_bilabials_a() -> None:
    """The face solver narrows rounded lips almost shut ("blue"): Rhubarb draws them puckered (F); only
    a closure the visemes call bilabial is the pressed A."""
    wide = pose("aa", jaw=0.5, voice=1.0)
    oo = pose("ou", jaw=0.1, voice=1.0, shapes={"mouthClose": 0.1, "mouthPucker": 0.7})
    mm = pose("PP", jaw=0.05, voice=1.0, shapes={"mouthClose": 0.05, "mouthPucker": 0.5})
    shapes = rhubarb.frame_shapes(take_from_poses([wide] * 10 + [oo] * 10 + [mm] * 10))
    assert shapes[10:20] == ["F"] * 10 and shapes[20:] == ["A"] * 10
