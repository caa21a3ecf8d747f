"""Linear heads from an SSL layer to 12-d EMA, read without executing pickled code.

Two formats:

* wav2avatar's published heads: a scikit-learn ``LinearRegression`` pickled with ``pickle.dump``
  (e.g. ``lr_wlm_l9_mng_all.pkl``: WavLM Large layer 9 -> MNGU0 EMA). The unpickler below only
  resolves numpy's array constructors and turns the estimator class into a plain record, so a
  pickle that names any other global (``os.system``, ``builtins.eval``...) is refused before
  anything runs, and scikit-learn need not be installed.
* The bridge's own ``.npz`` (``allow_pickle=False``): ``coef`` (12, D), ``intercept`` (12,) and
  optionally ``layer``.

The layer comes from the head (``layer`` in the npz, ``_l<N>_`` in a wav2avatar file name) unless
the config names one.
"""

from __future__ import annotations

import importlib
import io
import math
import pickle
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bridge.errors import ModelError
from bridge.frames import EMA_NAMES, F32

# numpy's array and scalar reconstructors (old and new module paths); nothing else is resolved.
# ``_reconstruct`` is resolved to the size-checked wrapper below.
_NUMPY_GLOBALS = {
    ("numpy.core.multiarray", "scalar"): ("numpy._core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"): ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"): ("numpy._core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"): ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"): ("numpy", "ndarray"),
    ("_codecs", "encode"): ("_codecs", "encode"),  # how protocols 0-2 store an array's bytes
}
_ESTIMATORS = {"LinearRegression", "Ridge", "RidgeCV", "Lasso", "ElasticNet"}
_LAYER_IN_NAME = re.compile(r"_l(\d+)(?:_|$)")
_MAX_HEAD_BYTES = 64 * 1024 * 1024
# A linear head's arrays are small: no array in the file may hold more elements than the file's byte limit.
_MAX_ARRAY_ELEMENTS = _MAX_HEAD_BYTES


@dataclass(frozen=True, slots=True)
class LinearHead:
    """ema = features @ coef.T + intercept.

    Attributes:
        coef: (12, D) weights, EMA_NAMES rows.
        intercept: (12,) offsets.
        layer: hidden-state index the head was fitted on (0 = input of the first transformer
            layer), or None when the head does not say.
        source: file it came from, for messages.
    """

    coef: F32
    intercept: F32
    layer: int | None
    source: str

    @property
    def n_features(self) -> int:
        return int(self.coef.shape[1])

    def apply(self, features: F32) -> F32:
        out: F32 = (features @ self.coef.T + self.intercept).astype(np.float32)
        return out


class _EstimatorState:
    """Stands in for a scikit-learn estimator: keeps its attribute dict, runs nothing."""

    state: dict[str, Any]

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, dict):
            self.state = state


class _Refused(pickle.UnpicklingError):
    """A pickle asked for something beyond a linear model's arrays."""


class _HeadUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module.startswith("sklearn.linear_model") and name in _ESTIMATORS:
            return _EstimatorState
        # Protocol 0 spells these modules the Python 2 way.
        if module in ("copyreg", "copy_reg") and name == "_reconstructor":
            return _reconstructor
        if module in ("builtins", "__builtin__") and name == "object":
            return object
        if module in ("numpy.core.multiarray", "numpy._core.multiarray") and name == "_reconstruct":
            return _reconstruct_array
        if module == "numpy" and name == "dtype":
            return _plain_dtype
        target = _NUMPY_GLOBALS.get((module, name))
        if target is None:
            raise _Refused(f"refusing pickled global {module}.{name}")
        return getattr(importlib.import_module(target[0]), target[1])


def _reconstruct_array(subtype: Any, shape: Any, dtype: Any) -> Any:
    """numpy's ``_reconstruct``, which allocates ``shape`` before the data arrives: a pickle can ask for
    any size, so only a plain ndarray of at most _MAX_ARRAY_ELEMENTS is made."""
    dims = shape if isinstance(shape, tuple) else (shape,)
    if subtype is not np.ndarray or not all(isinstance(d, int) and d >= 0 for d in dims):
        raise _Refused(f"refusing to rebuild an array of {subtype!r} with shape {shape!r}")
    if math.prod(dims) > _MAX_ARRAY_ELEMENTS:
        raise _Refused(f"refusing an array of shape {shape!r}, too large for a linear head")
    return importlib.import_module("numpy._core.multiarray")._reconstruct(subtype, dims, dtype)


def _plain_dtype(*args: Any) -> np.dtype[Any]:
    """numpy.dtype, numbers only: an object array's state allocates its whole shape before any data is
    checked (10**12 elements: a MemoryError), and a linear head holds numbers anyway."""
    dtype: np.dtype[Any] = np.dtype(*args)
    if dtype.hasobject:
        raise _Refused(f"refusing an array of Python objects ({dtype})")
    return dtype


def _reconstructor(cls: type, base: type, state: Any) -> Any:
    """copyreg._reconstructor (pickle protocols 0/1), limited to the stand-in estimator."""
    if cls is not _EstimatorState or base is not object:
        raise _Refused(f"refusing to rebuild {cls!r}")
    return object.__new__(_EstimatorState)


def _array(state: dict[str, Any], key: str, path: Path) -> F32:
    value = state.get(key)
    if value is None:
        raise ModelError(f"head {path}: the pickled estimator has no {key} (is it a fitted linear model?)")
    arr = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise ModelError(f"head {path}: {key} holds non-finite values")
    return arr.astype(np.float32)


def _layer_from_name(path: Path) -> int | None:
    m = _LAYER_IN_NAME.search(path.stem)
    return int(m.group(1)) if m else None


def _read_pickle(path: Path) -> LinearHead:
    data = path.read_bytes()
    if len(data) > _MAX_HEAD_BYTES:
        raise ModelError(f"head {path}: {len(data)} bytes is too large for a linear head")
    try:
        obj = _HeadUnpickler(io.BytesIO(data)).load()
    except _Refused as e:
        raise ModelError(f"head {path}: not a plain linear-regression pickle ({e})") from e
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError) as e:
        raise ModelError(f"head {path}: unreadable pickle ({type(e).__name__}: {e})") from e
    if not isinstance(obj, _EstimatorState):
        raise ModelError(f"head {path}: expected a pickled scikit-learn linear model, found {type(obj).__name__}")
    state = getattr(obj, "state", {})
    coef = _array(state, "coef_", path)
    intercept = _array(state, "intercept_", path)
    return LinearHead(np.atleast_2d(coef), np.atleast_1d(intercept), _layer_from_name(path), str(path))


def _read_npz(path: Path) -> LinearHead:
    try:
        with np.load(path, allow_pickle=False) as z:
            coef = np.asarray(z["coef"], dtype=np.float32)
            intercept = np.asarray(z["intercept"], dtype=np.float32)
            layer_array = np.asarray(z["layer"]) if "layer" in z.files else None
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as e:
        raise ModelError(f"head {path}: cannot read ({e}); expected arrays coef, intercept[, layer]") from e
    # As for a pickled head: NaN or infinite values gave a frozen face, and layer 1.7 was read as 1.
    for key, value in (("coef", coef), ("intercept", intercept)):
        if not np.all(np.isfinite(value)):
            raise ModelError(f"head {path}: {key} holds non-finite values")
    if layer_array is not None and (layer_array.shape != () or layer_array.dtype.kind not in "iu"):
        raise ModelError(f"head {path}: layer must be one whole number (got {layer_array!r})")
    layer = int(layer_array) if layer_array is not None else None
    return LinearHead(np.atleast_2d(coef), np.atleast_1d(intercept), layer, str(path))


def read_head(path: Path) -> LinearHead:
    """A 12-d EMA head from a wav2avatar ``.pkl`` or a ``.npz``.

    Raises:
        ModelError: a missing, unreadable, unsafe or wrongly shaped head.
    """
    if not path.is_file():
        raise ModelError(f"head not found: {path}")
    head = _read_npz(path) if path.suffix.lower() == ".npz" else _read_pickle(path)
    n = len(EMA_NAMES)
    if head.coef.ndim != 2 or head.coef.shape[0] != n or head.intercept.shape != (n,):
        raise ModelError(
            f"head {path}: maps to {head.coef.shape[0]} outputs with intercept {head.intercept.shape}; "
            f"a head must map to the {n} EMA channels"
        )
    return head
