"""Rig profiles: shipped files load, map names and values, and reject invalid content by name."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bridge.config import FaceConfig
from bridge.errors import ConfigError
from bridge.face import build_face_solver, load_profile
from bridge.face.profiles import NO_PROFILE, SHIPPED, parse_profile
from bridge.frames import ARKIT_INDEX, ARKIT_NAMES, FacePose

FACEGOOD_NAMES = Path(__file__).resolve().parents[2] / "../shared/data/dev/facegood/shirley_1015_bs_name.npy"


def pose(**weights: float) -> FacePose:
    bs = np.zeros(52, dtype=np.float32)
    for name, w in weights.items():
        bs[ARKIT_INDEX[name]] = w
    vrm = np.zeros(10, dtype=np.float32)
    vrm[0] = 0.7  # A
    return FacePose(bs, np.zeros(12, np.float32), np.zeros(12, np.float32), np.zeros(15, np.float32), vrm, "aa",
                    1.0, "surprised", 0.4)  # fmt: skip


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_profiles_load(name: str) -> None:
    profile = load_profile(name)
    assert profile.name == name
    assert len(set(profile.names)) == len(profile.names)


def test_arkit_profile_uses_perfect_sync_names() -> None:
    out = load_profile("arkit").apply(pose(jawOpen=0.4, eyeBlinkLeft=1.0))
    assert list(out)[:52] == [n[0].upper() + n[1:] for n in ARKIT_NAMES]
    assert out["JawOpen"] == pytest.approx(0.4) and out["EyeBlinkLeft"] == 1.0 and out["TongueOut"] == 0.0


def test_vrm_profiles_map_presets() -> None:
    p = pose(eyeBlinkRight=0.5)
    v0 = load_profile("vrm0").apply(p)
    v1 = load_profile("vrm1").apply(p)
    assert v0["A"] == pytest.approx(0.7) and v0["Blink_R"] == pytest.approx(0.5)
    assert v1["aa"] == pytest.approx(0.7) and v1["blinkRight"] == pytest.approx(0.5)
    assert v1["surprised"] == pytest.approx(0.4)


@pytest.mark.filterwarnings("ignore:Reading")
def test_facegood_profile_covers_the_rig() -> None:
    if not FACEGOOD_NAMES.exists():
        pytest.skip("needs ../shared/data/dev/facegood (dev data absent)")
    names = [str(n) for n in np.load(FACEGOOD_NAMES, allow_pickle=True)]
    profile = load_profile("facegood")
    assert list(profile.names) == names
    out = profile.apply(pose(jawOpen=0.3, mouthPucker=0.5))
    assert out["mouth_stretch_c"] == pytest.approx(0.3)
    assert out["mouth_pucker_l"] == out["mouth_pucker_r"] == pytest.approx(0.5)
    assert out["tooth_d_u"] == 0.0


def test_gain_curve_limits_and_symmetry() -> None:
    profile = parse_profile(
        {
            "symmetry": "average",
            "left_suffix": "_L",
            "right_suffix": "_R",
            "channels": {
                "smile_L": {"from": {"mouthSmileLeft": 1.0}},
                "smile_R": {"from": {"mouthSmileRight": 1.0}},
                "jaw": {"from": {"jawOpen": 1.0}, "gain": 2.0, "max": 0.5},
                "soft": {"from": {"jawOpen": 1.0}, "curve": "power", "gamma": 2.0},
                "ease": {"from": {"jawOpen": 1.0}, "curve": "smoothstep"},
                "extra": {"value": 0.25},
            },
        },
        "test",
    )
    out = profile.apply(pose(mouthSmileLeft=0.6, mouthSmileRight=0.2, jawOpen=0.4))
    assert out["smile_L"] == out["smile_R"] == pytest.approx(0.4)
    assert out["jaw"] == pytest.approx(0.5)
    assert out["soft"] == pytest.approx(0.16)
    assert out["ease"] == pytest.approx(0.4 * 0.4 * (3 - 0.8))
    assert out["extra"] == pytest.approx(0.25)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"channels": {"x": {"from": {"jawOpenn": 1.0}}}}, "unknown source 'jawOpenn'"),
        ({"channels": {"x": {"from": {"jawOpen": 1.0}, "gian": 2}}}, "unknown key 'gian'"),
        ({"channels": {"x": {"curve": "cubic"}}}, "curve must be one of"),
        ({"channels": {"x": {"min": 1.0, "max": 0.0}}}, "min is above max"),
        ({"channels": {}}, "needs a"),
        ({"channels": {"x": {"gain": "big"}}}, "expected a number"),
        ({"channels": {"x": {"min": float("nan")}}}, r"channels.x.min: must be a finite number"),
        ({"channels": {"x": {"gain": float("inf")}}}, r"channels.x.gain: must be a finite number"),
        ({"channels": {"x": {"from": {"jawOpen": 1e308}}}}, r"channels.x.from.jawOpen: must be a finite number"),
        ({"channels": {"x": {"curve": "power", "gamma": -1.0}}}, r"channels.x.gamma: must be above 0"),
    ],
    ids=["unknown source", "unknown key", "bad curve", "min above max", "no channels", "not a number", "nan min",
         "inf gain", "huge weight", "negative gamma"],  # fmt: skip
)
def test_invalid_profiles_are_rejected_by_name(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_profile(data, "bad.toml")


def test_profile_from_a_file_and_the_engine_applies_it(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text('name = "mine"\n[channels.mouthOpen]\nfrom = { jawOpen = 1.0 }\ngain = 2.0\n')
    engine = build_face_solver(FaceConfig(profile=str(path)))
    rig = engine.rig(pose(jawOpen=0.2))
    assert rig is not None and rig.profile == "mine" and rig.names == ("mouthOpen",)
    assert rig.values.tolist() == [pytest.approx(0.4)]
    with pytest.raises(ConfigError, match="face.profile"):
        load_profile(str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match="face.profile"):
        load_profile("maya")


def test_a_profile_saved_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    path = tmp_path / "notepad.toml"
    path.write_bytes(b'\xef\xbb\xbfname = "mine"\n[channels.mouthOpen]\nfrom = { jawOpen = 1.0 }\n')
    assert load_profile(str(path)).name == "mine"


def test_the_default_profile_is_none_and_gives_no_rig_channels() -> None:
    # Rig channels are opt-in: the default frames, wire messages and bake files stay as they were.
    engine = build_face_solver(FaceConfig())
    assert FaceConfig().profile == NO_PROFILE == "none"
    assert engine.profile is None and engine.rig(pose(jawOpen=0.2)) is None
    with pytest.raises(ConfigError, match="face.profile"):
        load_profile(NO_PROFILE)  # not a profile: only the solver's builder reads it
