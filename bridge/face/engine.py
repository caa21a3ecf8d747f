"""FaceEngine: one 100 Hz articulation frame in, one FacePose out (the pipeline's FaceSolver stage).

Per frame: update the speaker's neutral -> speaker-relative articulation -> mood style -> mouth
solver -> mood expression -> blinks, gaze, head, breath -> eye shapes and joints -> smoothing.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Mapping

import numpy as np

from bridge.config import FaceConfig
from bridge.face.emotion import (
    EXPRESSIVE,
    Arousal,
    MoodMixer,
    MoodTerms,
    add_expression,
    mood_terms,
    style_articulation,
)
from bridge.face.neutral import SpeakerNeutral
from bridge.face.profiles import NO_PROFILE, Profile, load_profile
from bridge.face.secondary import Blinks, Breath, Gaze, Head
from bridge.face.smoothing import OnePole
from bridge.face.solver import jaw_angle_rad, solve_mouth, vrm_vowels
from bridge.frames import (
    ARKIT_INDEX,
    F32,
    JOINT_NAMES,
    VISEMES,
    VRM_PRESETS,
    ArticulationFrame,
    FacePose,
    RigChannels,
)

log = logging.getLogger(__name__)

_I = ARKIT_INDEX
_J = {n: i for i, n in enumerate(JOINT_NAMES)}
_VRM = {n: i for i, n in enumerate(VRM_PRESETS)}
FRAME_S = 0.01
EYE_LOOK_FULL_RAD = 0.5  # eye rotation at which an ARKit eyeLook shape reaches 1 (about 29 degrees)
RECENT_OPEN_TAU_S = 0.2  # memory of the last lip opening, for lip press
RECENT_OPEN_FULL = 0.2  # a recent aperture of this much gives full press on the next closure
VOR_GAIN = 0.7  # eyes counter-rotate this much of the head's turn to hold the fixation
_N_BS, _N_J, _N_V, _N_VRM, _N_EMA = len(ARKIT_INDEX), len(JOINT_NAMES), len(VISEMES), len(VRM_PRESETS), 12
# Slices of the packed output vector (blendshapes, joints, EMA, visemes, VRM) that the smoother runs on.
_O = np.cumsum([0, _N_BS, _N_J, _N_EMA, _N_V, _N_VRM]).tolist()
_SIDES = tuple(
    (_I["eyeLookOut" + s], _I["eyeLookIn" + s], _I["eyeLookUp" + s], _I["eyeLookDown" + s],
     _I["eyeBlink" + s], _I["eyeSquint" + s], _I["eyeWide" + s])
    for s in ("Left", "Right")
)  # fmt: skip
_BLINK_L, _BLINK_R = _I["eyeBlinkLeft"], _I["eyeBlinkRight"]
_J_JAW, _J_TONGUE = _J["jaw_open_rad"], _J["tongue_tip_up"]
_J_HEAD = (_J["head_yaw_rad"], _J["head_pitch_rad"], _J["head_roll_rad"])
_J_EYE_YAW = (_J["eye_left_yaw_rad"], _J["eye_right_yaw_rad"])
_J_EYE_PITCH = (_J["eye_left_pitch_rad"], _J["eye_right_pitch_rad"])
_J_BREATH = _J["breath"]
_VRM_BLINK, _VRM_JOY, _VRM_ANGRY, _VRM_SORROW, _VRM_FUN = (_VRM[n] for n in ("Blink", "Joy", "Angry", "Sorrow", "Fun"))
# Mood weights come in EXPRESSIVE's order; looked up by name (a fixed unpacking once sent "sad" to Angry).
_W_HAPPY, _W_SAD, _W_ANGRY, _W_DISGUSTED, _W_AFRAID = (
    EXPRESSIVE.index(n) for n in ("happy", "sad", "angry", "disgusted", "afraid")
)


def _clamp01(x: float) -> float:
    return min(1.0, max(0.0, x))


def _ranges() -> tuple[F32, F32]:
    joint_lo = np.full(_N_J, -np.pi, dtype=np.float32)
    joint_hi = np.full(_N_J, np.pi, dtype=np.float32)
    for name in ("tongue_tip_up", "tongue_body_up", "tongue_front"):
        joint_lo[_J[name]], joint_hi[_J[name]] = -1.0, 1.0
    joint_lo[_J["breath"]], joint_hi[_J["breath"]] = 0.0, 1.0
    lo = np.concatenate([np.zeros(_N_BS), joint_lo, np.full(_N_EMA, -100.0), np.zeros(_N_V + _N_VRM)])
    hi = np.concatenate([np.ones(_N_BS), joint_hi, np.full(_N_EMA, 100.0), np.ones(_N_V + _N_VRM)])
    return lo.astype(np.float32), hi.astype(np.float32)


class FaceEngine:
    """The face solver. ``set_mood``, ``set_mood_mix`` and ``calibrate`` may be called from any thread."""

    def __init__(self, cfg: FaceConfig, profile: Profile | None) -> None:
        self.cfg = cfg
        self.profile = profile
        self._lock = threading.Lock()
        self._calibrate_requested = False
        self.neutral = SpeakerNeutral(cfg.calibrate_s)
        self.moods = MoodMixer({cfg.mood: cfg.intensity}, cfg.mood_transition_s)
        self.arousal = Arousal()
        lo, hi = _ranges()
        self._smooth = OnePole(min(cfg.smoothing_ms, 10.0), lo, hi)
        self._terms: MoodTerms | None = None
        self._terms_key = b""
        self._init_secondary()

    def _init_secondary(self) -> None:
        seeds = np.random.SeedSequence(self.cfg.seed).spawn(4)
        rngs = [np.random.default_rng(s) for s in seeds]
        self.blinks = Blinks(self.cfg.blink, rngs[0])
        self.gaze = Gaze(self.cfg.gaze, rngs[1])
        self.head = Head(self.cfg.head, rngs[2])
        self.breath = Breath(self.cfg.breath, rngs[3])
        self._last_t_s: float | None = None
        self._recent_open = 0.0

    def set_mood(self, mood: str, intensity: float, transition_s: float | None = None) -> None:
        """Fade to one mood at ``intensity`` over ``transition_s`` (default: cfg.mood_transition_s).

        Raises:
            ConfigError: unknown mood, intensity outside 0..1 or transition outside 0..60 s.
        """
        self.moods.set_target({mood: intensity}, transition_s)
        log.debug("mood -> %s %.2f", mood, intensity)

    def set_mood_mix(self, weights: Mapping[str, float], transition_s: float | None = None) -> None:
        """Fade to a blend of moods ({name: intensity}); weights summing above 1 are normalised."""
        self.moods.set_target(weights, transition_s)
        log.info("mood mix -> %s", dict(weights))

    def calibrate(self) -> None:
        """Re-estimate the speaker's neutral from the next cfg.calibrate_s seconds of speech."""
        with self._lock:
            self._calibrate_requested = True

    def reset(self) -> None:
        """Forget the speaker and the motion state; the mood jumps to its target."""
        with self._lock:
            self._calibrate_requested = False
        self.neutral.reset()
        self.arousal.reset()
        self.moods.jump_to_target()
        self._smooth.reset()
        self._init_secondary()

    def rig(self, pose: FacePose, /) -> RigChannels | None:
        """The pose in the configured rig profile's channels (None without a profile)."""
        return None if self.profile is None else self.profile.channels(pose)

    def process(self, frame: ArticulationFrame, /) -> FacePose:
        with self._lock:
            recalibrate, self._calibrate_requested = self._calibrate_requested, False
        if recalibrate:
            self.neutral.recalibrate()
        dt_s = FRAME_S if self._last_t_s is None else min(0.1, max(0.0, frame.t_s - self._last_t_s))
        self._last_t_s = frame.t_s

        self.neutral.update(frame)
        art = self.neutral.normalize(frame)
        self._recent_open = max(art.aperture, self._recent_open * math.exp(-dt_s / RECENT_OPEN_TAU_S))
        moods = self.moods.step(frame.t_s)
        arousal_scale = 1.0
        if self.cfg.auto_mood:
            self.arousal.update(art, dt_s)
            arousal_scale = self.arousal.intensity_scale
        w = moods if arousal_scale == 1.0 else moods * np.float32(arousal_scale)
        terms = self._mood_terms(w)
        art = style_articulation(art, terms, min(1.0, self._recent_open / RECENT_OPEN_FULL))
        bs = add_expression(solve_mouth(art), art, terms)

        blink = self.blinks.step(art.voice, dt_s)
        gaze_yaw, gaze_pitch = self.gaze.step(art.voice, dt_s)
        emphasis = 0.5 + self.arousal.value if self.cfg.auto_mood else 1.0
        head_yaw, head_pitch, head_roll = self.head.step(art.jaw, art.voice, emphasis, dt_s)
        breath = self.breath.step(art.voice, dt_s)
        head_pitch += 0.015 * breath * self.cfg.head  # the chest lifts the head a little on an inhalation
        # Eyes hold their fixation against head motion (vestibulo-ocular reflex) only when gaze is on.
        vor = VOR_GAIN if self.cfg.gaze > 0.0 else 0.0
        eye_yaw = gaze_yaw - vor * head_yaw
        eye_pitch = gaze_pitch - vor * head_pitch
        self._eye_shapes(bs, eye_yaw, eye_pitch, blink)

        # Everything is written straight into one packed vector, which the smoother filters at once.
        raw = np.zeros(_O[5], dtype=np.float32)
        raw[_O[0] : _O[1]] = bs
        joints = raw[_O[1] : _O[2]]
        joints[_J_JAW] = jaw_angle_rad(bs)
        joints[_J_HEAD[0]] = head_yaw
        joints[_J_HEAD[1]] = head_pitch
        joints[_J_HEAD[2]] = head_roll
        joints[_J_EYE_YAW[0]] = joints[_J_EYE_YAW[1]] = eye_yaw
        joints[_J_EYE_PITCH[0]] = joints[_J_EYE_PITCH[1]] = eye_pitch
        joints[_J_TONGUE : _J_TONGUE + 3] = (art.tongue_tip_up, art.tongue_body_up, art.tongue_front)
        joints[_J_BREATH] = breath
        raw[_O[2] : _O[3]] = self.neutral.ema_offset(frame)
        raw[_O[3] : _O[4]] = art.visemes

        vrm = raw[_O[4] : _O[5]]
        vrm[:] = vrm_vowels(art, bs)
        vrm[_VRM_BLINK] = 0.5 * (bs[_BLINK_L] + bs[_BLINK_R])
        w = terms.w.tolist()
        vrm[_VRM_JOY] = w[_W_HAPPY]
        vrm[_VRM_ANGRY] = max(w[_W_ANGRY], 0.6 * w[_W_DISGUSTED])
        vrm[_VRM_SORROW] = max(w[_W_SAD], 0.6 * w[_W_AFRAID])
        vrm[_VRM_FUN] = 0.4 * w[_W_HAPPY]

        out = self._smooth.process(raw, dt_s)
        visemes = out[_O[3] : _O[4]]
        return FacePose(
            blendshapes=out[_O[0] : _O[1]],
            joints=out[_O[1] : _O[2]],
            ema=out[_O[2] : _O[3]],
            visemes=visemes,
            vrm=out[_O[4] : _O[5]],
            viseme=VISEMES[int(np.argmax(visemes))],
            voice=art.voice,
            mood=terms.dominant[0],
            mood_intensity=terms.dominant[1],
        )

    def _mood_terms(self, w: F32) -> MoodTerms:
        """The fusion terms of ``w``, recomputed only when the weights change (rare: fades, auto mood)."""
        key = w.tobytes()
        if self._terms is None or key != self._terms_key:
            self._terms, self._terms_key = mood_terms(w), key
        return self._terms

    @staticmethod
    def _eye_shapes(bs: F32, yaw_rad: float, pitch_rad: float, blink: float) -> None:
        """ARKit eye shapes from the eye angles (same for both eyes) and the blink."""
        look_left = _clamp01(max(0.0, yaw_rad) / EYE_LOOK_FULL_RAD)  # toward the subject's left
        look_right = _clamp01(max(0.0, -yaw_rad) / EYE_LOOK_FULL_RAD)
        up = _clamp01(max(0.0, pitch_rad) / EYE_LOOK_FULL_RAD)
        down = _clamp01(max(0.0, -pitch_rad) / EYE_LOOK_FULL_RAD)
        (out_l, in_l, up_l, down_l, blink_l, squint_l, wide_l), (out_r, in_r, *_) = _SIDES
        bs[out_l] = bs[in_r] = look_left
        bs[in_l] = bs[out_r] = look_right
        for _, _, up_i, down_i, blink_i, squint_i, wide_i in _SIDES:
            bs[up_i] = up
            bs[down_i] = down
            # A blink adds to the mood's squint; wide eyes give way while the lids close.
            bs[blink_i] = _clamp01(blink + 0.3 * float(bs[squint_i]))
            bs[wide_i] = _clamp01(float(bs[wide_i] * (1.0 - blink)))


def build_face_solver(cfg: FaceConfig) -> FaceEngine:
    """The face solver for a config (loads the rig profile; raises ConfigError when it is invalid)."""
    return FaceEngine(cfg, None if cfg.profile == NO_PROFILE else load_profile(cfg.profile))
