"""Secondary motion: blinks, gaze, head motion and breathing, seeded so a run can be replayed exactly.

Each generator has its own random stream (spawned from the one seed), so switching one off does not
change what the others do. Strength 0 switches a generator off (its output is exactly rest).
Angles follow schemas/README.md: yaw > 0 to the subject's left, pitch > 0 up, roll > 0 tilted left.
"""

from __future__ import annotations

import math

import numpy as np

SPEAKING_VA = 0.5


def _min_jerk(x: float) -> float:
    t = min(1.0, max(0.0, x))
    return t * t * t * (10.0 - 15.0 * t + 6.0 * t * t)


class Blinks:
    """Stochastic blinks: a Poisson process (about 17/min) with a raised rate just after a phrase ends.

    Each blink closes in 80 ms, holds 40 ms and opens in 160 ms; blinks are at least 0.4 s apart.
    """

    RATE_HZ = 0.28
    BOUNDARY_RATE_HZ = 2.5
    BOUNDARY_S = 0.8
    CLOSE_S, HOLD_S, OPEN_S = 0.08, 0.04, 0.16
    REFRACTORY_S = 0.4

    def __init__(self, strength: float, rng: np.random.Generator) -> None:
        self.strength = strength
        self._rng = rng
        self._since_blink_s = math.inf
        self._since_boundary_s = math.inf
        self._was_speaking = False

    def step(self, voice: float, dt_s: float) -> float:
        speaking = voice >= SPEAKING_VA
        if self._was_speaking and not speaking:
            self._since_boundary_s = 0.0
        self._was_speaking = speaking
        self._since_boundary_s += dt_s
        self._since_blink_s += dt_s
        rate = self.BOUNDARY_RATE_HZ if self._since_boundary_s < self.BOUNDARY_S else self.RATE_HZ
        # Draw every frame so the random stream does not depend on the strength.
        draw = float(self._rng.random())
        if self._since_blink_s > self.REFRACTORY_S and draw < rate * dt_s:
            self._since_blink_s = 0.0
        t = self._since_blink_s
        if t < self.CLOSE_S:
            closed = _min_jerk(t / self.CLOSE_S)
        elif t < self.CLOSE_S + self.HOLD_S:
            closed = 1.0
        else:
            closed = 1.0 - _min_jerk((t - self.CLOSE_S - self.HOLD_S) / self.OPEN_S)
        return self.strength * closed


class Gaze:
    """Fixations and saccades: hold a target for a log-normal time, then jump to a new one.

    Targets cluster on the listener (straight ahead) with occasional look-aways; while speaking,
    fixations are shorter. Saccades follow the main sequence (about 20 ms + 2.2 ms per degree).
    Returns (yaw, pitch) in radians.
    """

    MEDIAN_FIXATION_S = 1.4
    SPEAKING_FIXATION_S = 0.9
    AWAY_PROBABILITY = 0.35
    AWAY_YAW_RAD = 0.22
    AWAY_PITCH_RAD = 0.08
    JITTER_RAD = 0.015
    MAX_YAW_RAD = 0.45
    MAX_PITCH_UP_RAD = 0.35
    MAX_PITCH_DOWN_RAD = 0.45

    def __init__(self, strength: float, rng: np.random.Generator) -> None:
        self.strength = strength
        self._rng = rng
        self._from = (0.0, 0.0)
        self._to = (0.0, 0.0)
        self._t_s = 0.0
        self._duration_s = 0.03
        self._next_s = self._fixation_s(False)

    def _fixation_s(self, speaking: bool) -> float:
        median = self.SPEAKING_FIXATION_S if speaking else self.MEDIAN_FIXATION_S
        return float(median * math.exp(0.5 * self._rng.standard_normal()))

    def step(self, voice: float, dt_s: float) -> tuple[float, float]:
        self._t_s += dt_s
        if self._t_s >= self._next_s:
            now = self._current()
            if self._rng.random() < self.AWAY_PROBABILITY:
                yaw = float(self._rng.normal(0.0, self.AWAY_YAW_RAD))
                target = [yaw, float(self._rng.normal(-0.02, self.AWAY_PITCH_RAD))]
            else:
                target = self._rng.normal(0.0, self.JITTER_RAD, size=2).tolist()
            # Eyes turn as far either side, but look further down than up.
            yaw_to = min(self.MAX_YAW_RAD, max(-self.MAX_YAW_RAD, target[0]))
            pitch_to = min(self.MAX_PITCH_UP_RAD, max(-self.MAX_PITCH_DOWN_RAD, target[1]))
            self._from, self._to = now, (yaw_to, pitch_to)
            amplitude_deg = math.degrees(math.hypot(yaw_to - now[0], pitch_to - now[1]))
            self._duration_s = 0.02 + 0.0022 * amplitude_deg
            self._t_s = 0.0
            self._next_s = self._fixation_s(voice >= SPEAKING_VA)
        yaw, pitch = self._current()
        return self.strength * yaw, self.strength * pitch

    def _current(self) -> tuple[float, float]:
        k = _min_jerk(self._t_s / self._duration_s)
        (yaw0, pitch0), (yaw1, pitch1) = self._from, self._to
        return yaw0 + k * (yaw1 - yaw0), pitch0 + k * (pitch1 - pitch0)


class Head:
    """Head (yaw, pitch, roll) from prosody: nods on stressed syllables, tilts per phrase, idle sway.

    A stressed syllable is a local peak of jaw opening during speech that stands out from the recent
    peaks; it kicks a damped spring that dips the head and brings it back (about 0.4 s). At each
    phrase onset the head takes a new slow tilt/turn; sway is a sum of slow sinusoids.
    """

    NOD_RAD = 0.09
    TILT_ROLL_RAD = 0.05
    TILT_YAW_RAD = 0.06
    TILT_TAU_S = 0.6
    SWAY_RAD = (0.02, 0.012, 0.01)
    MIN_NOD_GAP_S = 0.25
    SPRING_HZ = 2.2
    SPRING_DAMPING = 0.75

    def __init__(self, strength: float, rng: np.random.Generator) -> None:
        self.strength = strength
        self._rng = rng
        # Python floats: nine sines per frame are cheaper with math than as a numpy expression.
        self._omega = (2 * math.pi * rng.uniform(0.05, 0.3, size=(3, 3))).tolist()
        self._phase = rng.uniform(0.0, 2 * math.pi, size=(3, 3)).tolist()
        self._t_s = 0.0
        self._jaw = [0.0, 0.0]
        self._peak_mean = 0.15
        self._since_nod_s = math.inf
        self._nod = 0.0
        self._nod_v = 0.0
        self._tilt = (0.0, 0.0)
        self._tilt_target = (0.0, 0.0)
        self._was_speaking = False

    def step(self, jaw: float, voice: float, emphasis: float, dt_s: float) -> tuple[float, float, float]:
        """``emphasis`` (about 0.5..1.5) scales nod depth, e.g. with arousal."""
        self._t_s += dt_s
        self._since_nod_s += dt_s
        speaking = voice >= SPEAKING_VA
        if speaking and not self._was_speaking:
            roll, yaw = self._rng.normal(0.0, 1.0, size=2).tolist()
            self._tilt_target = (roll * self.TILT_ROLL_RAD, yaw * self.TILT_YAW_RAD)
        elif not speaking and self._was_speaking:
            self._tilt_target = (self._tilt_target[0] * 0.3, self._tilt_target[1] * 0.3)
        self._was_speaking = speaking
        prev2, prev1 = self._jaw
        self._jaw = [prev1, jaw]
        kick = 0.0
        if speaking and prev1 > prev2 and prev1 >= jaw and prev1 > 0.05:
            stressed = prev1 > 1.3 * self._peak_mean
            self._peak_mean += 0.1 * (prev1 - self._peak_mean)
            if stressed and self._since_nod_s > self.MIN_NOD_GAP_S:
                kick = min(1.0, prev1) * emphasis
                self._since_nod_s = 0.0
        w = 2 * math.pi * self.SPRING_HZ
        # Semi-implicit Euler of x'' = -w^2 x - 2 zeta w x' (+ velocity kick downward).
        self._nod_v += -kick * self.NOD_RAD * w * 1.6
        self._nod_v += dt_s * (-w * w * self._nod - 2 * self.SPRING_DAMPING * w * self._nod_v)
        self._nod += dt_s * self._nod_v
        k = min(1.0, dt_s / self.TILT_TAU_S)
        tilt_roll, tilt_yaw = self._tilt
        target_roll, target_yaw = self._tilt_target
        self._tilt = (tilt_roll + k * (target_roll - tilt_roll), tilt_yaw + k * (target_yaw - tilt_yaw))
        t_s = self._t_s
        sway = [
            amp * (math.sin(w[0] * t_s + p[0]) + math.sin(w[1] * t_s + p[1]) + math.sin(w[2] * t_s + p[2])) / 3
            for amp, w, p in zip(self.SWAY_RAD, self._omega, self._phase, strict=True)
        ]
        yaw = sway[0] + self._tilt[1]
        pitch = sway[1] + self._nod
        roll = sway[2] + self._tilt[0]
        return self.strength * yaw, self.strength * pitch, self.strength * roll


class Breath:
    """Breathing 0..1 (1 = full lungs): a 4 s cycle in silence, slow exhalation while speaking."""

    PERIOD_S = 4.0
    EXHALE_TAU_S = 3.0
    FOLLOW_TAU_S = 0.4

    def __init__(self, strength: float, rng: np.random.Generator) -> None:
        self.strength = strength
        self._phase = float(rng.uniform(0.0, 2 * math.pi))
        self._value = 0.5

    def step(self, voice: float, dt_s: float) -> float:
        if voice >= SPEAKING_VA:
            self._value += (dt_s / self.EXHALE_TAU_S) * (0.0 - self._value)
            # Resume the cycle with an inhalation when the phrase ends.
            self._phase = math.pi
        else:
            self._phase += 2 * math.pi * dt_s / self.PERIOD_S
            target = 0.5 - 0.5 * math.cos(self._phase + math.pi)
            self._value += min(1.0, dt_s / self.FOLLOW_TAU_S) * (target - self._value)
        return self.strength * min(1.0, max(0.0, self._value))
