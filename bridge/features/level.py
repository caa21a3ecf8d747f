"""Input level guard: lifts speech far quieter than the training corpus into its range; leaves the rest alone.

The corpus is augmented with speech levels from -45 to -12 dBFS RMS (``bridge.training.augment``),
whose loudest 10 ms hops peak about 10-15 dB higher. A stream far below that (a microphone with its
gain too low) is outside what the model was taught, and the running log-mel normaliser, which treats
frames far below its level as pauses, then takes 15-25 s to adapt (docs/accuracy.md). The guard
follows the peak level of the stream's speech hops causally (the ``PEAK_QUANTILE`` of the last
``PEAK_WINDOW_S`` of them, so a click or a knock of a few hops is not taken for the voice) and, when it stays below
``PEAK_FLOOR_DBFS`` after ``MIN_SPEECH_S`` of speech, raises the gain gradually (by at most
``MAX_GAIN_DB``) until the peaks reach ``PEAK_TARGET_DBFS``, the middle of the trained range; it lets
go when the peaks rise ``RELEASE_ABOVE_FLOOR_DB`` above the floor, at once if a hop would be driven
past ``CEILING_DBFS``. Speech that peaks above ``PEAK_FLOOR_DBFS`` within its first
``MIN_SPEECH_S`` keeps a gain of exactly 1, so its samples pass bit for bit.

Speech hops are those at least ``SPEECH_ABOVE_FLOOR_DB`` above a running noise floor (and above
``ABSOLUTE_MIN_DBFS``): silence, hiss and hum are never measured as speech, and the peak window
moves only while there is speech, so a long pause does not raise the gain either. The gain of a hop
depends only on the hops before it, and hops are cut the same way whatever the block size, so
streaming output equals offline output.
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections import deque

import numpy as np
import numpy.typing as npt

from bridge.features.logmel import HOP, SAMPLE_RATE_HZ
from bridge.frames import F32

PEAK_FLOOR_DBFS = -42.0  # below the peaks of the quietest speech in training (about -33 to -36 dBFS)
PEAK_TARGET_DBFS = -20.0
RELEASE_ABOVE_FLOOR_DB = 6.0  # hysteresis: a voice that hovers near the floor does not switch the gain on and off
CEILING_DBFS = -6.0  # a hop that the gain would push above this gets its gain cut at once
MAX_GAIN_DB = 30.0
SLEW_DB_PER_S = 30.0  # a 20 dB correction takes about 0.7 s
MIN_SPEECH_S = 2.0  # speech-like hops seen before the gain may move: longer than a noisy lead-in
PEAK_WINDOW_S = 3.0  # of speech hops: a speaker who moves away is followed within it
PEAK_QUANTILE = 0.95  # ignores the loudest 5 % (15 hops of a full window): clicks, knocks, a cough
SPEECH_ABOVE_FLOOR_DB = 10.0
ABSOLUTE_MIN_DBFS = -90.0
FLOOR_WINDOW_S = 1.5  # the noise floor is the quietest hop of this window (pauses between words reach it)

_HOP_S = HOP / SAMPLE_RATE_HZ
_MIN_SPEECH_HOPS = round(MIN_SPEECH_S / _HOP_S)
_FLOOR_HOPS = round(FLOOR_WINDOW_S / _HOP_S)
_PEAK_HOPS = round(PEAK_WINDOW_S / _HOP_S)


class LevelGuard:
    """Causal gain for 16 kHz mono samples; ``process`` takes any block size.

    ``measure_only`` measures a whole recording (``offline_gain_db``): every speech hop counts, not the
    last ``PEAK_WINDOW_S``, the peak is taken once at the end, and no gain is ever applied.
    """

    def __init__(self, measure_only: bool = False) -> None:
        self._measure_only = measure_only
        self.reset()

    def reset(self) -> None:
        self._in_hop = 0  # samples of the current hop seen so far
        self._hop_energy = 0.0
        self._hops = 0
        self._floor_window: deque[tuple[int, float]] = deque()  # increasing levels: a sliding minimum
        self._speech_levels: deque[float] = deque()  # the last _PEAK_HOPS speech hops, oldest first
        self._sorted_levels: list[float] = []  # the same levels, sorted
        self._peak_db = ABSOLUTE_MIN_DBFS
        self._speech_hops = 0
        self._engaged = False
        self.gain_db = 0.0

    @property
    def speech_peak_dbfs(self) -> float:
        """The peak level of the speech heard (``PEAK_QUANTILE`` of the speech hops in the window)."""
        if self._measure_only and self._speech_levels:
            return _quantile(sorted(self._speech_levels))
        return self._peak_db

    @property
    def speech_s(self) -> float:
        """Seconds of speech hops heard."""
        return self._speech_hops * _HOP_S

    def process(self, samples: npt.NDArray[np.floating]) -> F32:
        """The samples with the guard's gain applied (the input array itself while the gain is 0 dB)."""
        x = np.asarray(samples, dtype=np.float32)
        out = x
        start = 0
        while start < x.size:
            # The gain changes only at hop boundaries, after the hop that moved the estimate.
            stop = min(x.size, start + HOP - self._in_hop)
            if self.gain_db != 0.0:
                if out is x:
                    out = x.copy()
                out[start:stop] = np.clip(x[start:stop] * np.float32(10.0 ** (self.gain_db / 20.0)), -1.0, 1.0)
            self._add(x[start:stop])
            start = stop
        return out

    def _add(self, piece: F32) -> None:
        """Accumulate part of a hop; at the hop's end update the level estimates and the gain."""
        self._hop_energy += float(np.dot(piece, piece))
        self._in_hop += piece.size
        if self._in_hop < HOP:
            return
        power = self._hop_energy / HOP
        self._in_hop, self._hop_energy = 0, 0.0
        hop_db = 10.0 * math.log10(power) if power > 0.0 else -200.0
        while self._floor_window and self._floor_window[-1][1] >= hop_db:
            self._floor_window.pop()
        self._floor_window.append((self._hops, hop_db))
        if self._floor_window[0][0] <= self._hops - _FLOOR_HOPS:
            self._floor_window.popleft()
        self._hops += 1
        floor_db = self._floor_window[0][1]
        if hop_db > max(floor_db + SPEECH_ABOVE_FLOOR_DB, ABSOLUTE_MIN_DBFS):
            self._speech_hops += 1
            if self._measure_only:  # sorted once, at the end
                self._speech_levels.append(hop_db)
                return
            self._peak_db = self._track_peak(hop_db)
        if self._measure_only:
            return
        if hop_db + self.gain_db > CEILING_DBFS:
            # A voice in the trained range after a quiet stretch (typing, breathing before speaking):
            # cut the gain at once rather than over-drive the next hops.
            self.gain_db = max(0.0, CEILING_DBFS - hop_db)
        if self._speech_hops >= _MIN_SPEECH_HOPS and self._peak_db < PEAK_FLOOR_DBFS:
            self._engaged = True
        elif self._peak_db >= PEAK_FLOOR_DBFS + RELEASE_ABOVE_FLOOR_DB:
            self._engaged = False
        wanted = min(MAX_GAIN_DB, max(0.0, PEAK_TARGET_DBFS - self._peak_db)) if self._engaged else 0.0
        step = SLEW_DB_PER_S * _HOP_S
        self.gain_db = min(wanted, self.gain_db + step) if wanted > self.gain_db else max(wanted, self.gain_db - step)

    def _track_peak(self, hop_db: float) -> float:
        """Add a speech hop to the peak window; the window's ``PEAK_QUANTILE`` level."""
        self._speech_levels.append(hop_db)
        insort(self._sorted_levels, hop_db)
        if len(self._speech_levels) > _PEAK_HOPS:
            del self._sorted_levels[bisect_left(self._sorted_levels, self._speech_levels.popleft())]
        return _quantile(self._sorted_levels)


def _quantile(sorted_levels: list[float]) -> float:
    return sorted_levels[int(PEAK_QUANTILE * (len(sorted_levels) - 1))]


MIN_OFFLINE_SPEECH_S = 0.5  # a whole recording's level needs this much speech: clicks and knocks are not a voice


def offline_gain_db(samples: F32) -> tuple[float, float]:
    """(gain in dB, speech peak in dBFS) for a whole 16 kHz recording, known in advance.

    Offline the level of all of the speech is known before the first sample is used, so a quiet
    recording can be raised from its start instead of after ``MIN_SPEECH_S`` of it, as the causal guard
    must (speech at -40 dB had a still face for its first seconds). The same rule as the guard's: speech
    whose ``PEAK_QUANTILE`` level is below ``PEAK_FLOOR_DBFS`` is raised toward ``PEAK_TARGET_DBFS`` by
    at most ``MAX_GAIN_DB``, so that the guard then finds it in range and leaves it alone.
    """
    guard = LevelGuard(measure_only=True)
    guard.process(samples)
    peak_db = guard.speech_peak_dbfs
    if guard.speech_s < MIN_OFFLINE_SPEECH_S or peak_db >= PEAK_FLOOR_DBFS:
        return 0.0, peak_db
    return min(MAX_GAIN_DB, PEAK_TARGET_DBFS - peak_db), peak_db
