"""Multichannel audio to mono: the mean of the channels, with a phase-inverted channel flipped back first.

A stereo microphone or interface with one channel's polarity inverted (a "phase invert" switch left on, some
USB and XLR interfaces) records the voice as ``L = s, R = -s``: the mean of the channels cancels and the
face barely moves while the user speaks loudly. The rule here finds that case from the loud part of the
audio and then mixes the channels with the inverted one's polarity restored, ``(L - R) / 2``: the voice
at the level a plain mean gives for a correctly wired pair (equal to one channel when the inversion is
exact), and the two channels' own noise still averaged, which taking channel 0 alone would not do.

Normal stereo never comes near the rule: the mean of two channels keeps ``(1 + r) / 2`` of their energy
for channels of equal level with correlation ``r``, so losing 90 % of it needs ``r <= -0.8`` held over
the whole loud audio, which music, room microphones and two different microphones do not do (and
content that did would play as near silence in mono anyway).

Files are judged on all their loud audio before anything plays; live streams (stdin, a microphone) on
their first ``STREAM_DECIDE_S`` of loud audio, after which the choice holds for the rest of the stream
(switching back and forth would make the level jump); from ``PROVISIONAL_S`` of it until then, blocks are
mixed as the audio so far calls for. Not sooner: a wide M/S pair whose side talks first is indistinguishable
from an inversion for a moment. ``--channel N`` bypasses the rule.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from bridge.audio.resample import to_mono
from bridge.frames import F32

log = logging.getLogger(__name__)

WINDOW_S = 0.02  # audio is judged in windows of this length ...
LOUD_DBFS = -50.0  # ... that count when the channels' mean RMS reaches this (silence and hiss do not)
MIN_LOUD_S = 0.25  # less loud audio than this is not judged: the plain mean is kept
STREAM_DECIDE_S = 1.0  # a live stream is judged once it has delivered this much loud audio
PROVISIONAL_S = 0.5  # until then, what its loud audio so far shows is used, without a warning
MAX_MIX_RATIO = 0.1  # the plain mean keeps at most this fraction of the channels' energy (-10 dB) ...
MAX_CORRELATION = -0.8  # ... and channel 0 and the others are at least this anti-correlated
_PIECE = 1 << 16  # frames measured at once, so a long file needs no float64 copy of itself
_LOUD_POWER = 10 ** (LOUD_DBFS / 10)


@dataclass(frozen=True, slots=True)
class Cancellation:
    """Channels that cancel when averaged, measured over the loud part of the audio.

    Attributes:
        flipped: channels (0-based) whose polarity is opposite to channel 0's.
        correlation: correlation of channel 0 with the mean of the other channels, -1 to 1.
        mix_db: energy of the plain mean relative to the channels' mean energy, in dB (0: nothing lost).
        loud_s: seconds of loud audio the measurement covers.
    """

    flipped: tuple[int, ...]
    correlation: float
    mix_db: float
    loud_s: float


@dataclass(frozen=True, slots=True)
class Downmix:
    """How (n, channels) audio becomes mono.

    Attributes:
        channel: one selected channel, as it is; None mixes all channels.
        flipped: channels negated before the mean (their polarity restored); empty for the plain mean.
    """

    channel: int | None = None
    flipped: tuple[int, ...] = ()

    @staticmethod
    def restoring(found: Cancellation | None) -> Downmix:
        """The mean of all channels, with those ``found`` inverted flipped back (None: the plain mean)."""
        return Downmix() if found is None else Downmix(None, found.flipped)

    def apply(self, samples: npt.NDArray[np.floating]) -> F32:
        """Mono float32 samples of a (n,) or (n, channels) array.

        Raises:
            IndexError: the selected channel does not exist (callers turn this into their own error).
        """
        if not self.flipped:
            return to_mono(samples, self.channel)
        x = np.asarray(samples, dtype=np.float32)
        signs = np.ones(x.shape[1], dtype=np.float32)
        signs[list(self.flipped)] = -1.0
        return np.ascontiguousarray((x * signs).mean(axis=1, dtype=np.float32))


class CancellationMeter:
    """Energy and correlation sums over the loud windows of a stream of (n, channels) blocks.

    Blocks may have any length: a partial window waits for the next block.
    """

    def __init__(self, rate_hz: int, channels: int) -> None:
        self.rate_hz = rate_hz
        self.channels = channels
        self._window = max(1, round(rate_hz * WINDOW_S))
        self._rest = np.zeros((0, channels), dtype=np.float64)
        self._energy = np.zeros(channels)  # per channel: sum of x_k^2
        self._with_first = np.zeros(channels)  # per channel: sum of x_0 * x_k
        self._mix = 0.0  # sum of mean^2
        self._others = 0.0  # sum of o^2, o the mean of channels 1..n-1
        self._first_others = 0.0  # sum of x_0 * o
        self.loud_frames = 0

    @property
    def loud_s(self) -> float:
        return self.loud_frames / self.rate_hz

    def feed(self, frames: npt.NDArray[np.floating]) -> None:
        """Add a block of (n, channels) frames; non-finite samples (a broken driver) count as silence."""
        block = np.nan_to_num(np.asarray(frames, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        x = np.concatenate([self._rest, block])
        n = x.shape[0] - x.shape[0] % self._window
        self._rest = x[n:]
        windows = x[:n].reshape(-1, self._window, self.channels)
        loud = windows[np.mean(windows**2, axis=(1, 2)) >= _LOUD_POWER].reshape(-1, self.channels)
        if loud.shape[0] == 0:
            return
        first, mix, others = loud[:, 0], loud.mean(axis=1), loud[:, 1:].mean(axis=1)
        self._energy += np.einsum("ij,ij->j", loud, loud)
        self._with_first += first @ loud
        self._mix += float(mix @ mix)
        self._others += float(others @ others)
        self._first_others += float(first @ others)
        self.loud_frames += loud.shape[0]

    def cancellation(self, min_loud_s: float = MIN_LOUD_S) -> Cancellation | None:
        """What was measured so far, when the channels cancel; None when they do not, or too little
        loud audio (under ``min_loud_s``) has been measured to say."""
        if self.channels < 2 or self.loud_s < min_loud_s:
            return None
        ratio = self._mix / float(self._energy.mean())
        correlation = self._first_others / math.sqrt(max(float(self._energy[0]) * self._others, 1e-300))
        if not (ratio <= MAX_MIX_RATIO and correlation <= MAX_CORRELATION):
            return None
        flipped = tuple(k for k in range(1, self.channels) if self._with_first[k] < 0)
        return Cancellation(flipped, correlation, 10 * math.log10(max(ratio, 1e-12)), self.loud_s)


def detect_cancellation(samples: npt.NDArray[np.floating], rate_hz: int) -> Cancellation | None:
    """Whether the channels of a whole recording, (n, channels), cancel when averaged (None: they do not)."""
    x = np.asarray(samples)
    if x.ndim != 2 or x.shape[1] < 2:
        return None
    meter = CancellationMeter(rate_hz, x.shape[1])
    for start in range(0, x.shape[0], _PIECE):
        meter.feed(x[start : start + _PIECE])
    return meter.cancellation()


def warn_cancellation(name: str, found: Cancellation, live: bool) -> None:
    """The one warning line for a source whose channels cancel: what was found, what is done, the override."""
    flipped = ", ".join(str(k) for k in found.flipped)
    plural = "s" if len(found.flipped) > 1 else ""
    lost = "over 90" if found.mix_db <= -90 else f"{-found.mix_db:.0f}"
    measured = f"the first {found.loud_s:.1f} s of sound" if live else f"{found.loud_s:.1f} s of sound"
    log.warning(
        "%s: channel%s %s %s phase-inverted against channel 0 (correlation %.2f over %s): their plain mean "
        "is %s dB below the channels themselves, near silence for the face; channel%s %s %s flipped back "
        "before mixing%s, so the voice keeps its level (--channel N takes one channel as it is)",
        name, plural, flipped, "are" if plural else "is", found.correlation, measured, lost,
        plural, flipped, "are" if plural else "is", " from here on" if live else "",
        extra={"event": "channels_cancel", "flipped": list(found.flipped), "correlation": round(found.correlation, 3),
               "mix_db": round(max(found.mix_db, -120.0), 1), "loud_s": round(found.loud_s, 2)},
    )  # fmt: skip


def choose_downmix(samples: npt.NDArray[np.floating], rate_hz: int, channel: int | None, name: str) -> Downmix:
    """The downmix of a whole recording: the selected channel, the plain mean, or, when its channels
    cancel, the mean with the inverted ones flipped back (said in one warning naming ``name``)."""
    if channel is not None:
        return Downmix(channel)
    found = detect_cancellation(samples, rate_hz)
    if found is not None:
        warn_cancellation(name, found, live=False)
    return Downmix.restoring(found)


def verdict(meter: CancellationMeter, name: str, live: bool) -> Downmix:
    """The downmix a finished measurement calls for, warning when its channels cancel."""
    found = meter.cancellation()
    if found is not None:
        warn_cancellation(name, found, live)
    return Downmix.restoring(found)


class StreamDownmix:
    """Mono blocks of a live stream (stdin, a microphone) of ``channels`` channels.

    Until ``STREAM_DECIDE_S`` of loud audio has arrived each block is mixed as the loud audio so far
    calls for (from ``PROVISIONAL_S`` of it; before, the plain mean), so a phase-inverted pair is near
    silence for half as long; then the choice is made once (the warning with it) and kept for
    the rest of the stream. A selected channel, or a one-channel stream, is never measured.
    """

    def __init__(self, rate_hz: int, channels: int, channel: int | None, name: str) -> None:
        self._name = name
        self._downmix = Downmix(channel)
        self._meter = CancellationMeter(rate_hz, channels) if channel is None and channels > 1 else None

    @property
    def downmix(self) -> Downmix:
        return self._downmix

    def __call__(self, frames: npt.NDArray[np.floating]) -> F32:
        """Mono samples of one (n, channels) block.

        Raises:
            IndexError: the selected channel does not exist.
        """
        if self._meter is not None:
            self._meter.feed(frames)
            if self._meter.loud_s >= STREAM_DECIDE_S:
                self._downmix = verdict(self._meter, self._name, live=True)
                self._meter = None
            else:
                return Downmix.restoring(self._meter.cancellation(PROVISIONAL_S)).apply(frames)
        return self._downmix.apply(frames)
