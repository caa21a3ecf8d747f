"""FaceEngine behaviour on synthetic speech: rest, neutral estimation, moods, secondary motion, smoothing."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.config import FaceConfig
from bridge.errors import ConfigError
from bridge.face import FaceEngine, build_face_solver, mouth_opening, solver
from bridge.frames import ARKIT_INDEX, ARKIT_NAMES, JOINT_NAMES, MOODS, VISEMES, ArticulationFrame, FacePose
from tests.face.synth import BILABIAL, SENTENCE, speech_frames

QUIET = FaceConfig(blink=0.0, gaze=0.0, head=0.0, breath=0.0)
J = {n: i for i, n in enumerate(JOINT_NAMES)}


def run(engine: FaceEngine, frames: list[ArticulationFrame]) -> list[FacePose]:
    return [engine.process(f) for f in frames]


def openings(poses: list[FacePose]) -> np.ndarray:
    return np.array([mouth_opening(p.blendshapes) for p in poses])


def bilabial_minima(labels: list[str], track: np.ndarray, skip_s: float) -> np.ndarray:
    """Smallest opening inside each bilabial phone, for phones starting after ``skip_s``."""
    mins, i = [], 0
    while i < len(labels):
        j = i + 1
        while j < len(labels) and labels[j] == labels[i]:
            j += 1
        if labels[i] in BILABIAL and i >= skip_s * 100:
            mins.append(track[i:j].min())
        i = j
    return np.array(mins)


def mirrored_pairs() -> list[tuple[int, int]]:
    out = []
    for n in ARKIT_NAMES:
        if n.endswith("Left") and not n.startswith("eyeLook"):
            out.append((ARKIT_INDEX[n], ARKIT_INDEX[n[:-4] + "Right"]))
    # Gaze is conjugate: the left eye looking out matches the right eye looking in.
    out += [(ARKIT_INDEX["eyeLookOutLeft"], ARKIT_INDEX["eyeLookInRight"])]
    out += [(ARKIT_INDEX["eyeLookInLeft"], ARKIT_INDEX["eyeLookOutRight"])]
    out += [(ARKIT_INDEX["eyeLookUpLeft"], ARKIT_INDEX["eyeLookUpRight"])]
    return out


@pytest.fixture(scope="module")
def speech() -> tuple[list[ArticulationFrame], list[str]]:
    # An unseen voice: the model reads its closed mouth as jaw 0.2, lips 0.25 open.
    return speech_frames(SENTENCE * 3, rest=(0.2, 0.25))


frame_values = st.lists(st.floats(0.0, 1.0), min_size=7, max_size=7)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(frame_values, st.floats(0.0, 1.0)), min_size=1, max_size=40),
    st.sampled_from(MOODS),
    st.floats(0.0, 1.0),
)
def test_every_output_in_range_and_symmetric(
    rows: list[tuple[list[float], float]], mood: str, intensity: float
) -> None:
    engine = build_face_solver(FaceConfig(mood=mood, intensity=intensity))
    vis = np.full(15, 1 / 15, dtype=np.float32)
    for i, (controls, va) in enumerate(rows):
        c = np.array(controls, dtype=np.float32)
        f = ArticulationFrame(i * 0.01, 0.0, np.zeros(12, np.float32), c, vis, 1.0, va)
        pose = engine.process(f)
        for arr in (pose.blendshapes, pose.visemes, pose.vrm):
            assert np.all(arr >= 0.0) and np.all(arr <= 1.0)
        assert -1.0 <= pose.joints[J["tongue_tip_up"]] <= 1.0
        assert 0.0 <= pose.joints[J["breath"]] <= 1.0
        for left, right in mirrored_pairs():
            assert pose.blendshapes[left] == pytest.approx(pose.blendshapes[right], abs=1e-6)


@pytest.mark.parametrize("mood", MOODS)
def test_silence_is_a_closed_relaxed_mouth(mood: str) -> None:
    rng = np.random.default_rng(1)
    engine = build_face_solver(replace(QUIET, mood=mood))
    vis = np.full(15, 1 / 15, dtype=np.float32)
    for i in range(200):
        c = rng.uniform(0, 1, 7).astype(np.float32)
        ema = rng.normal(0, 5, 12).astype(np.float32)
        pose = engine.process(ArticulationFrame(i * 0.01, 0.0, ema, c, vis, 1.0, 0.0))
    assert mouth_opening(pose.blendshapes) == pytest.approx(0.0, abs=1e-6)
    for name in ("jawOpen", "mouthClose", "mouthRollLower", "mouthFunnel", "mouthPucker", "tongueOut"):
        assert pose.blendshapes[ARKIT_INDEX[name]] == pytest.approx(0.0, abs=1e-6), name
    if mood == "neutral":
        # No muscular effort at rest; a mood may keep its expression (an angry face presses its lips).
        assert np.allclose(pose.blendshapes, 0.0, atol=1e-6)
    assert pose.viseme == "sil"
    assert np.allclose(pose.ema, 0.0, atol=1e-5)
    assert pose.joints[J["jaw_open_rad"]] == pytest.approx(0.0, abs=1e-6)


def test_neutral_estimation_closes_an_unseen_speakers_lips(
    speech: tuple[list[ArticulationFrame], list[str]],
) -> None:
    frames, labels = speech
    engine = build_face_solver(QUIET)
    poses = run(engine, frames)
    closures = bilabial_minima(labels, openings(poses), skip_s=QUIET.calibrate_s)
    assert len(closures) > 20
    assert closures.max() < 0.04
    # Without the neutral the same voice never closes: the rest offset alone opens the lips 0.15.
    assert engine.neutral.rest[1] == pytest.approx(0.25, abs=0.03)


def test_calibrate_restarts_the_estimate_on_a_new_voice() -> None:
    first, _ = speech_frames(SENTENCE * 2, rest=(0.0, 0.0))
    second, labels = speech_frames(SENTENCE * 2, rest=(0.1, 0.35))
    engine = build_face_solver(QUIET)
    run(engine, first)
    assert engine.neutral.rest[1] < 0.05
    engine.calibrate()
    shifted = [replace(f, t_s=f.t_s + 20.0) for f in second]
    poses = run(engine, shifted)
    assert engine.neutral.calibrated
    assert engine.neutral.rest[1] == pytest.approx(0.35, abs=0.03)
    closures = bilabial_minima(labels, openings(poses), skip_s=QUIET.calibrate_s)
    assert closures.max() < 0.04


@pytest.mark.parametrize("mood", MOODS[1:])
def test_full_mood_keeps_closures_and_the_opening_track(
    mood: str, speech: tuple[list[ArticulationFrame], list[str]]
) -> None:
    frames, labels = speech
    neutral = openings(run(build_face_solver(QUIET), frames))
    moody = openings(run(build_face_solver(replace(QUIET, mood=mood, intensity=1.0)), frames))
    assert np.corrcoef(neutral, moody)[0, 1] >= 0.9
    assert bilabial_minima(labels, moody, skip_s=QUIET.calibrate_s).max() < 0.04


SIGNATURE = {
    "happy": ("mouthSmileLeft", "cheekSquintLeft"),
    "sad": ("browInnerUp", "mouthFrownLeft"),
    "angry": ("browDownLeft", "noseSneerLeft"),
    "disgusted": ("noseSneerLeft", "browDownLeft"),
    "afraid": ("eyeWideLeft", "browInnerUp"),
    "surprised": ("browOuterUpLeft", "eyeWideLeft"),
}


@pytest.mark.parametrize("mood", MOODS[1:])
def test_expression_is_monotonic_in_intensity(
    mood: str, speech: tuple[list[ArticulationFrame], list[str]]
) -> None:
    frames = speech[0][:400]
    levels = []
    for intensity in np.linspace(0.0, 1.0, 6):
        poses = run(build_face_solver(replace(QUIET, mood=mood, intensity=float(intensity))), frames)
        bs = np.array([p.blendshapes for p in poses])
        levels.append(bs)
    for name in SIGNATURE[mood]:
        k = ARKIT_INDEX[name]
        for lo, hi in zip(levels, levels[1:], strict=False):
            assert np.all(hi[:, k] >= lo[:, k] - 1e-6), name
        assert levels[-1][:, k].mean() > levels[0][:, k].mean() + 0.2, name


def test_mood_transition_is_smooth_and_reaches_target() -> None:
    engine = build_face_solver(QUIET)
    frames, _ = speech_frames("_ _ _ _ _ _", rest=(0.0, 0.0))
    engine.process(frames[0])
    engine.set_mood("happy", 0.8, transition_s=0.5)
    smile = [float(engine.process(f).blendshapes[ARKIT_INDEX["mouthSmileLeft"]]) for f in frames[1:80]]
    assert np.all(np.diff(smile) >= -1e-7)
    assert smile[10] < smile[40] < smile[-1]
    pose = engine.process(frames[80])
    assert pose.mood == "happy" and pose.mood_intensity == pytest.approx(0.8)


def test_mood_mix_blends_and_validates() -> None:
    engine = build_face_solver(QUIET)
    frames, _ = speech_frames("_ _ _", rest=(0.0, 0.0))
    engine.set_mood_mix({"happy": 0.6, "surprised": 0.3}, transition_s=0.0)
    pose = engine.process(frames[0])
    assert (pose.mood, pose.mood_intensity) == ("happy", pytest.approx(0.6))
    assert pose.blendshapes[ARKIT_INDEX["mouthSmileLeft"]] > 0.2
    assert pose.blendshapes[ARKIT_INDEX["browOuterUpLeft"]] > 0.1
    with pytest.raises(ConfigError, match="mood"):
        engine.set_mood("bored", 0.5)
    with pytest.raises(ConfigError, match="intensity"):
        engine.set_mood("happy", 1.5)


def test_auto_mood_scales_intensity_with_arousal() -> None:
    calm, _ = speech_frames(SENTENCE * 4, rest=(0.0, 0.0), jaw_scale=0.5)
    excited, _ = speech_frames(SENTENCE, rest=(0.0, 0.0), jaw_scale=1.0, phone_s=0.06)
    frames = calm + [replace(f, t_s=f.t_s + calm[-1].t_s) for f in excited]
    engine = build_face_solver(replace(QUIET, mood="happy", intensity=1.0, auto_mood=True))
    poses = run(engine, frames)
    smile = np.array([p.blendshapes[ARKIT_INDEX["cheekSquintLeft"]] for p in poses])
    n = len(calm)
    assert smile[n + 200 : n + 400].mean() > smile[n - 400 : n - 200].mean() + 0.02


def test_secondary_motion_is_deterministic_under_the_seed(
    speech: tuple[list[ArticulationFrame], list[str]],
) -> None:
    frames = speech[0]
    a = np.array([p.joints for p in run(build_face_solver(FaceConfig(seed=7)), frames)])
    b = np.array([p.joints for p in run(build_face_solver(FaceConfig(seed=7)), frames)])
    c = np.array([p.joints for p in run(build_face_solver(FaceConfig(seed=8)), frames)])
    assert np.array_equal(a, b)
    assert not np.allclose(a[:, 1:8], c[:, 1:8])


def test_reset_replays_identically(speech: tuple[list[ArticulationFrame], list[str]]) -> None:
    frames = speech[0][:500]
    engine = build_face_solver(FaceConfig(seed=3))
    first = np.array([p.blendshapes for p in run(engine, frames)])
    engine.reset()
    second = np.array([p.blendshapes for p in run(engine, frames)])
    assert np.array_equal(first, second)


def test_strength_zero_switches_each_generator_off(speech: tuple[list[ArticulationFrame], list[str]]) -> None:
    frames = speech[0]
    poses = run(build_face_solver(QUIET), frames)
    joints = np.array([p.joints for p in poses])
    assert np.all(joints[:, J["head_yaw_rad"] : J["eye_right_pitch_rad"] + 1] == 0.0)
    assert np.all(joints[:, J["breath"]] == 0.0)
    blinks = np.array([p.blendshapes[ARKIT_INDEX["eyeBlinkLeft"]] for p in poses])
    assert np.all(blinks == 0.0)
    on = np.array([p.joints for p in run(build_face_solver(FaceConfig()), frames)])
    for name in ("head_yaw_rad", "head_pitch_rad", "head_roll_rad", "eye_left_yaw_rad", "breath"):
        assert np.ptp(on[:, J[name]]) > 0.01, name


def test_eye_angles_go_out_as_joints_and_arkit_shapes(speech: tuple[list[ArticulationFrame], list[str]]) -> None:
    poses = run(build_face_solver(FaceConfig(seed=2, head=0.0)), speech[0])
    for p in poses:
        yaw = p.joints[J["eye_left_yaw_rad"]]
        out_left = p.blendshapes[ARKIT_INDEX["eyeLookOutLeft"]]
        in_left = p.blendshapes[ARKIT_INDEX["eyeLookInLeft"]]
        if yaw > 0.05:
            assert out_left > 0.05 and in_left == pytest.approx(0.0, abs=0.01)
        elif yaw < -0.05:
            assert in_left > 0.05 and out_left == pytest.approx(0.0, abs=0.01)


def test_blinks_are_more_frequent_after_phrase_ends() -> None:
    frames, _ = speech_frames(("_ bamipa topu _ " * 6) * 8, rest=(0.0, 0.0))
    engine = build_face_solver(replace(QUIET, blink=1.0, seed=5))
    blink = np.array([p.blendshapes[ARKIT_INDEX["eyeBlinkLeft"]] for p in run(engine, frames)])
    va = np.array([f.voice_activity for f in frames])
    onsets = np.flatnonzero((blink[1:] > 0.5) & (blink[:-1] <= 0.5))
    ends = np.flatnonzero((va[1:] < 0.5) & (va[:-1] >= 0.5))
    after_end = np.zeros(len(frames), dtype=bool)
    for e in ends:
        after_end[e : e + 100] = True
    rate_after = after_end[onsets].sum() / after_end.sum()
    rate_else = (~after_end[onsets]).sum() / (~after_end).sum()
    assert rate_after > 2.0 * rate_else


def test_nods_follow_stressed_syllables() -> None:
    frames, labels = speech_frames("_ papa pa papa _", rest=(0.0, 0.0))
    engine = build_face_solver(replace(QUIET, head=1.0))
    pitch = np.array([p.joints[J["head_pitch_rad"]] for p in run(engine, frames)])
    assert pitch.min() < -0.02


def test_smoothing_lag_is_at_most_10_ms_without_overshoot() -> None:
    engine = build_face_solver(QUIET)
    vis = np.zeros(15, dtype=np.float32)
    vis[VISEMES.index("aa")] = 1.0
    closed = np.zeros(7, dtype=np.float32)
    opened = np.array([1, 1, 0, 0, 0.5, 0.5, 0.5], dtype=np.float32)
    track = []
    for i in range(60):
        c = closed if i < 30 else opened
        track.append(engine.process(ArticulationFrame(i * 0.01, 0.0, np.zeros(12, np.float32), c, vis, 1, 1)))
    jaw = np.array([p.blendshapes[ARKIT_INDEX["jawOpen"]] for p in track])
    final = jaw[-1]
    assert final > 0.5
    assert np.all(jaw <= final + 1e-6)
    # A one-pole of tau 10 ms covers 63 % of a step within the first 10 ms frame.
    assert jaw[30] >= 0.63 * final - 1e-3


def test_gaze_turns_as_far_to_either_side() -> None:
    # Yaw used to be clipped to -0.45..+0.35 rad like pitch, which biased long takes to one side.
    import numpy as np

    from bridge.face.secondary import Gaze

    gaze = Gaze(1.0, np.random.default_rng(3))
    gaze.AWAY_YAW_RAD = 1.0  # every look-away far enough to reach the limits
    yaws = np.array([gaze.step(0.0, 0.01)[0] for _ in range(60_000)])
    assert yaws.max() == pytest.approx(Gaze.MAX_YAW_RAD) and yaws.min() == pytest.approx(-Gaze.MAX_YAW_RAD)


def test_rounding_narrows_the_lip_opening_of_real_frames(
    speech: tuple[list[ArticulationFrame], list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    frames, _ = speech
    narrowed = run(build_face_solver(QUIET), frames)
    monkeypatch.setattr(solver, "ROUNDING_NARROWS", 0.0)
    plain = run(build_face_solver(QUIET), frames)
    less = openings(plain) - openings(narrowed)
    pucker = np.array([p.blendshapes[ARKIT_INDEX["mouthPucker"]] + p.blendshapes[ARKIT_INDEX["mouthFunnel"]]
                       for p in plain])  # fmt: skip
    assert less.min() > -1e-6  # never more open
    assert less.max() > 0.02  # the rounded vowels of the sentence part less
    assert pucker[less > 0.01].min() > 0.05  # and only where the lips are rounded
    # The jaw is left alone.
    jaw = ARKIT_INDEX["jawOpen"]
    assert np.array_equal([p.blendshapes[jaw] for p in plain], [p.blendshapes[jaw] for p in narrowed])


@pytest.mark.parametrize(
    ("mood", "preset", "weight"),
    [("happy", "Joy", 1.0), ("sad", "Sorrow", 1.0), ("angry", "Angry", 1.0), ("disgusted", "Angry", 0.6),
     ("afraid", "Sorrow", 0.6)],
)  # fmt: skip
def test_each_mood_drives_its_own_vrm_preset(mood: str, preset: str, weight: float) -> None:
    """"sad" showed VSeeFace's Angry face and "angry" its Sorrow: the weights were unpacked in the wrong order."""
    from bridge.frames import VRM_PRESETS

    engine = build_face_solver(replace(QUIET, mood=mood, intensity=1.0))
    frames, _ = speech_frames(SENTENCE)
    vrm = run(engine, frames)[-1].vrm
    emotional = {n: float(vrm[VRM_PRESETS.index(n)]) for n in ("Joy", "Angry", "Sorrow")}
    assert emotional[preset] == pytest.approx(weight, abs=0.02)
    assert all(v < 0.02 for n, v in emotional.items() if n != preset), emotional
