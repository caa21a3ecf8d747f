"""Numpy streaming inference of the trained articulation network (no torch).

Per 10 ms hop: input level guard -> log-mel frame -> causal conv -> causal conv -> GRU step -> head L, where head L
reads the GRU state of L frames later, so a frame's output leaves ``L`` hops after its audio.
Convolutions keep their last two inputs, the GRU its state and the last L states; the same code
runs whatever the block size, so streaming output equals offline output.
"""

from __future__ import annotations

import logging
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import numpy.typing as npt

from bridge.errors import AudioError, ConfigError, ModelError
from bridge.features.level import LevelGuard
from bridge.features.logmel import HOP, SAMPLE_RATE_HZ, StreamingLogMel
from bridge.features.phones import phone_features_for
from bridge.frames import F32, ModelOutput

log = logging.getLogger(__name__)

_FORMAT_VERSION = 1
_N_EMA, _N_CTRL, _N_VIS = 12, 7, 15
_MAX_BLOCK_SAMPLES = 10 * SAMPLE_RATE_HZ  # audio the network takes at once


def _sigmoid(x: F32) -> F32:
    out: F32 = (0.5 * (1.0 + np.tanh(0.5 * x))).astype(np.float32)
    return out


class Weights:
    """Arrays of a weights file, checked for layout; loaded with ``allow_pickle=False``.

    A file holds one network, or several (an ensemble) whose arrays carry the prefixes ``m0.``,
    ``m1.``, ... and an array ``members`` with their count (``ensemble_arrays`` writes them).
    """

    def __init__(self, path: Path) -> None:
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays: dict[str, npt.NDArray[np.float32]] = {k: z[k] for k in z.files}
        except OSError as e:
            raise ModelError(f"cannot read model weights {path}: {e.strerror or e}") from e
        # An empty file (EOFError), a plain .npy (TypeError: no archive), a damaged or huge header. numpy's
        # own words would advise loading it unsafely.
        except (ValueError, EOFError, TypeError, zipfile.BadZipFile, MemoryError) as e:
            raise ModelError(f"{path}: not a weights file made by `avatar-bridge train`") from e
        not_train = f"{path}: not a weights file made by `avatar-bridge train`"
        if not arrays or not all(isinstance(v, np.ndarray) for v in arrays.values()):  # a zip of other files
            raise ModelError(not_train)
        if {"coef", "intercept"} <= arrays.keys():
            raise ModelError(f"{path}: a linear head for an SSL upstream (give it with --head), not model weights")
        bad = [k for k, v in arrays.items() if v.dtype.kind in "fc" and not np.isfinite(v).all()]
        if bad:
            raise ModelError(f"{path}: array {bad[0]} holds NaN or infinite values")
        if "members" in arrays:
            count = arrays["members"]
            held = {k.split(".", 1)[0] for k in arrays if k.startswith("m") and "." in k}
            # Checked before use: a count of 10**9 built that many empty networks until memory ran out.
            if count.shape != () or count.dtype.kind not in "iu" or not 1 <= int(count) <= len(held):
                raise ModelError(f"{path}: not usable weights: its 'members' array ({count!r}) does not match "
                                 f"the {len(held)} networks the file holds")  # fmt: skip
            prefixes = [f"m{i}." for i in range(int(count))]
            self.members = [{k[len(p) :]: v for k, v in arrays.items() if k.startswith(p)} for p in prefixes]
        else:
            self.members = [arrays]
        for member in self.members:
            version_array = member.get("format_version", np.array(-1))
            if version_array.shape != () or version_array.dtype.kind not in "iu":
                raise ModelError(not_train)
            version = int(version_array)
            if version != _FORMAT_VERSION:
                raise ModelError(f"{path}: weights format {version}, this bridge reads {_FORMAT_VERSION}")
        self.path = path


def ensemble_arrays(members: list[dict[str, npt.NDArray[np.generic]]]) -> dict[str, npt.NDArray[np.generic]]:
    """One weights file's arrays for several trained networks (read back by ``Weights``)."""
    out: dict[str, npt.NDArray[np.generic]] = {"members": np.array(len(members), dtype=np.int32)}
    for i, arrays in enumerate(members):
        out.update({f"m{i}.{k}": v for k, v in arrays.items()})
    return out


class NumpyArticulationModel:
    """The ArticulationModel the bridge runs: 16 kHz in, 100 Hz articulation out.

    Args:
        weights: the arrays of one trained network (a ``Weights`` member).
        lookahead_frames: hops of look-ahead (one of the trained heads, 0..3); ``lookahead_s``
            is ``lookahead_frames * 0.01`` because the feature window ends at its hop's end.
        level_guard: run the input level guard (``bridge.features.level``); an ensemble runs one
            for all its members instead.
    """

    sample_rate_hz: int = SAMPLE_RATE_HZ
    hears_voicing: bool = True

    def __init__(
        self, weights: Mapping[str, npt.NDArray[np.float32]], lookahead_frames: int, level_guard: bool = True
    ) -> None:
        heads = tuple(int(v) for v in weights["lookaheads"])
        if lookahead_frames not in heads:
            raise ConfigError(f"model.lookahead_ms: {lookahead_frames * 10} ms has no trained head (heads: {heads})")
        self._w = weights
        self._la = lookahead_frames
        self.lookahead_s = lookahead_frames * HOP / SAMPLE_RATE_HZ
        self.name = f"articulation-gru-la{lookahead_frames * 10}ms"
        w = weights
        self._c1 = w["conv1_w"].transpose(2, 1, 0).reshape(-1, w["conv1_w"].shape[0])  # (3*in, out)
        self._c2 = w["conv2_w"].transpose(2, 1, 0).reshape(-1, w["conv2_w"].shape[0])
        self._w_ih = w["gru_w_ih"].T.copy()
        self._w_hh = w["gru_w_hh"].T.copy()
        self._hidden = w["gru_w_hh"].shape[1]
        self._h1 = w[f"head{lookahead_frames}_w1"].T.copy()
        self._hb1 = w[f"head{lookahead_frames}_b1"]
        self._h2 = w[f"head{lookahead_frames}_w2"].T.copy()
        self._hb2 = w[f"head{lookahead_frames}_b2"]
        self._ema_scale = float(w["ema_scale_mm"])
        self._features = StreamingLogMel(
            w["prior_mean"].astype(np.float64), w["prior_var"].astype(np.float64),
            envelope_coeffs=int(w.get("envelope_coeffs", np.array(0))),
        )  # fmt: skip
        # Weights trained with phone features carry the acoustic model that computes them.
        self._phones = phone_features_for(w)
        self._level = LevelGuard() if level_guard else None
        self._n_in = w["conv1_w"].shape[1]
        self.reset()

    def reset(self) -> None:
        if self._level is not None:
            self._level.reset()
        self._features.reset()
        if self._phones is not None:
            self._phones.reset()
        self._x1 = np.zeros((2, self._n_in), dtype=np.float32)
        self._x2 = np.zeros((2, self._c1.shape[1]), dtype=np.float32)
        self._h = np.zeros(self._hidden, dtype=np.float32)
        self._past_h = np.zeros((0, self._hidden), dtype=np.float32)  # states of frames not yet emitted
        self._n_frames_in = 0  # feature frames consumed
        self._n_frames_out = 0  # output rows emitted
        self._n_samples = 0

    def process(self, samples: F32, /) -> ModelOutput:
        x = np.asarray(samples, dtype=np.float32)
        if x.ndim != 1:
            raise AudioError(f"model input must be mono, got shape {x.shape}")
        if x.size > _MAX_BLOCK_SAMPLES:
            # Intermediates (FFT frames, gate inputs) grow with the block: a long file goes in pieces.
            parts = [self.process(x[i : i + _MAX_BLOCK_SAMPLES]) for i in range(0, x.size, _MAX_BLOCK_SAMPLES)]
            return ModelOutput.concat(parts[0].frame_index, parts)
        self._n_samples += x.size
        return self._run(self._featurize(x))

    def flush(self) -> ModelOutput:
        """Pad with silence to release every frame that holds real audio, then reset the stream."""
        n_real = -(-self._n_samples // HOP)
        pad_hops = max(0, n_real + self._la - self._n_frames_in)
        pending = self._n_samples - self._n_frames_in * HOP  # samples waiting in the feature buffer
        zeros = np.zeros(max(0, pad_hops * HOP - pending), dtype=np.float32)
        out = self._run(self._featurize(zeros))
        keep = max(0, n_real - out.frame_index)
        out = ModelOutput(out.frame_index, out.ema[:keep], out.controls[:keep], out.visemes[:keep], out.voicing[:keep])
        self.reset()
        return out

    def _featurize(self, x: F32) -> F32:
        if self._level is not None:
            x = self._level.process(x)
        feats = self._features.process(x)
        if self._phones is None:
            return feats
        return np.concatenate([feats, self._phones.process(x)], axis=1)

    def _run(self, feats: F32) -> ModelOutput:
        n = feats.shape[0]
        states = np.empty((n, self._hidden), dtype=np.float32)
        if n:
            x1 = np.concatenate([self._x1, feats])
            self._x1 = x1[-2:]
            a1 = np.maximum(self._stack3(x1) @ self._c1 + self._w["conv1_b"], 0.0)
            x2 = np.concatenate([self._x2, a1])
            self._x2 = x2[-2:]
            a2 = np.maximum(self._stack3(x2) @ self._c2 + self._w["conv2_b"], 0.0)
            hs = self._hidden
            b_hh = self._w["gru_b_hh"]
            gi = a2 @ self._w_ih + self._w["gru_b_ih"]
            # The reset/update gates' recurrent bias folds into the input projection; only the candidate's
            # bias must stay inside r * (...). Fewer numpy calls per step matter: this loop is sequential.
            gi[:, : 2 * hs] += b_hh[: 2 * hs]
            gi_rz = -gi[:, : 2 * hs]
            gi_n = gi[:, 2 * hs :]
            b_n = b_hh[2 * hs :]
            w_hh = self._w_hh
            h = self._h
            # A saturated gate overflows exp to inf, which yields the correct gate value 0: not worth a warning.
            with np.errstate(over="ignore"):
                for t in range(n):
                    hw = h @ w_hh  # all three gates' recurrent terms in one product
                    rz = 1.0 / (1.0 + np.exp(gi_rz[t] - hw[: 2 * hs]))
                    cand = np.tanh(gi_n[t] + rz[:hs] * (hw[2 * hs :] + b_n))
                    h = cand + rz[hs:] * (h - cand)
                    states[t] = h
            self._h = h
            self._n_frames_in += n
        hist = np.concatenate([self._past_h, states])
        n_out = max(0, hist.shape[0] - self._la)
        first = self._n_frames_out
        head_in = np.concatenate([hist[self._la : self._la + n_out], hist[:n_out]], axis=1)
        self._past_h = hist[n_out:]
        self._n_frames_out += n_out
        return self._decode(head_in, first)

    @staticmethod
    def _stack3(x: F32) -> F32:
        return np.concatenate([x[:-2], x[1:-1], x[2:]], axis=1)

    def _decode(self, head_in: F32, first: int) -> ModelOutput:
        y = np.maximum(head_in @ self._h1 + self._hb1, 0.0) @ self._h2 + self._hb2
        ema = y[:, :_N_EMA] * self._ema_scale
        controls = _sigmoid(y[:, _N_EMA : _N_EMA + _N_CTRL])
        logits = y[:, _N_EMA + _N_CTRL : _N_EMA + _N_CTRL + _N_VIS]
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        visemes = e / e.sum(axis=1, keepdims=True)
        voicing = _sigmoid(y[:, -1])
        return ModelOutput(
            frame_index=first,
            ema=ema.astype(np.float32),
            controls=controls,
            visemes=visemes.astype(np.float32),
            voicing=voicing,
        )


class EnsembleModel:
    """Several trained networks run side by side on the same audio; their outputs are averaged.

    Networks trained from different seeds (and so different generated texts) err differently, and
    their mean is steadier than any one of them (docs/accuracy.md). Each member streams exactly, so
    the mean does too.
    """

    sample_rate_hz: int = SAMPLE_RATE_HZ
    hears_voicing: bool = True

    def __init__(self, members: list[NumpyArticulationModel]) -> None:
        self._members = members
        self._level = LevelGuard()  # one for all: the members are built without theirs
        self.lookahead_s = members[0].lookahead_s
        self.name = f"{members[0].name}-x{len(members)}"

    def reset(self) -> None:
        self._level.reset()
        for m in self._members:
            m.reset()

    def process(self, samples: F32, /) -> ModelOutput:
        x = self._level.process(samples)
        return _mean([m.process(x) for m in self._members])

    def flush(self) -> ModelOutput:
        self._level.reset()
        return _mean([m.flush() for m in self._members])


def _mean(outs: list[ModelOutput]) -> ModelOutput:
    # Plain sums: np.mean over a list of small arrays costs more than the rest of a hop's averaging.
    scale = np.float32(1.0 / len(outs))

    def avg(arrays: list[F32]) -> F32:
        total = arrays[0]
        for a in arrays[1:]:
            total = total + a
        out: F32 = total * scale
        return out

    return ModelOutput(
        frame_index=outs[0].frame_index,
        ema=avg([o.ema for o in outs]),
        controls=avg([o.controls for o in outs]),
        visemes=avg([o.visemes for o in outs]),
        voicing=avg([o.voicing for o in outs]),
    )
