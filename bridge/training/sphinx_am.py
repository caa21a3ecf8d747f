"""Read the context-independent part of pocketsphinx's US English acoustic model (training only).

Files of the model directory that ships in the pocketsphinx wheel: ``means`` and ``variances`` (Sphinx
binary Gaussian files), ``sendump`` (8-bit quantised mixture weights, -log in units of
1024 ln 1.0001) and ``mdef`` (binary model definition; its context-independent phones come first and
own senones 3i .. 3i + 2). The result travels inside the weights file (``bridge.features.phones``).
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from bridge.errors import ModelError
from bridge.features.phones import N_PHONES, N_STREAMS, PhoneModel

_VAR_FLOOR = 1e-4  # pocketsphinx's -varfloor default
_MIXW_UNIT_NATS = 1024 * float(np.log(1.0001))
_MDEF_END = b"END FILE FORMAT DESCRIPTION\n"


def _model_dir() -> Path:
    """The en-us acoustic model directory inside the installed pocketsphinx package."""
    try:
        import pocketsphinx
    except ImportError as e:
        raise ModelError("training with phone features needs pocketsphinx: pip install 'avatar-bridge[offline]'") from e
    return Path(pocketsphinx.get_model_path()) / "en-us" / "en-us"


def _gaussians(path: Path) -> np.ndarray:
    data = path.read_bytes()
    at = data.index(b"endhdr\n") + len(b"endhdr\n")
    magic, n_mgau, n_feat, n_dens = struct.unpack_from("<I3i", data, at)
    if magic != 0x11223344:
        raise ModelError(f"{path}: not a little-endian Sphinx Gaussian file")
    at += 16
    featlen = struct.unpack_from(f"<{n_feat}i", data, at)
    at += 4 * n_feat
    (count,) = struct.unpack_from("<i", data, at)
    values = np.frombuffer(data, "<f4", count, at + 4)
    return values.reshape(n_mgau, n_feat, n_dens, featlen[0]).transpose(1, 0, 2, 3)


def _phone_names(path: Path) -> list[str]:
    data = path.read_bytes()
    at = data.index(_MDEF_END) + len(_MDEF_END)
    at = (at + 3) // 4 * 4
    n_ci = struct.unpack_from("<i", data, at)[0]
    n_ci_sen = struct.unpack_from("<i", data, at + 12)[0]
    if n_ci != N_PHONES or n_ci_sen != 3 * N_PHONES:
        raise ModelError(f"{path}: {n_ci} phones and {n_ci_sen} CI senones, expected {N_PHONES} and {3 * N_PHONES}")
    names, at = [], at + 40
    for _ in range(n_ci):
        end = data.index(b"\0", at)
        names.append(data[at:end].decode("ascii"))
        at = end + 1
    return names


def _mixture_weights(path: Path) -> np.ndarray:
    data = path.read_bytes()
    at = 0
    while True:
        (n,) = struct.unpack_from("<i", data, at)
        at += 4
        if n == 0:
            break
        at += n
    rows, cols = struct.unpack_from("<2i", data, at)
    quantised = np.frombuffer(data, np.uint8, N_STREAMS * rows * cols, at + 8).reshape(N_STREAMS, rows, cols)
    ci = quantised[:, :, : 3 * N_PHONES].astype(np.float64)  # (streams, densities, 126 senones)
    weights = np.exp(-ci * _MIXW_UNIT_NATS).reshape(N_STREAMS, rows, N_PHONES, 3)
    return weights.transpose(0, 2, 1, 3)  # (streams, phones, densities, states)


def load_phone_model() -> PhoneModel:
    """The 42 phone codebooks and their states' mixture weights."""
    d = _model_dir()
    try:
        means = _gaussians(d / "means")
        variances = _gaussians(d / "variances")
        weights = _mixture_weights(d / "sendump")
        names = _phone_names(d / "mdef")
    except (OSError, ValueError, struct.error) as e:
        raise ModelError(f"cannot read the pocketsphinx acoustic model in {d}: {e}") from e
    return PhoneModel(
        means=means.astype(np.float32),
        inv_var=(1.0 / np.maximum(variances, _VAR_FLOOR)).astype(np.float32),
        weights=weights.astype(np.float32),
        phones=tuple(names),
    )
