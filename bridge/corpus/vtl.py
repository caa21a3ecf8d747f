"""VocalTractLab speech with its true articulatory trajectories (dev-time, GPL generator only).

``vocaltractlab-cython`` (VocalTractLab 2.4, GPL) is used only here, to make training data; it is
never imported by the live path (import-linter forbids ``bridge.corpus`` there) and is not a
runtime dependency. It is imported lazily, so the rest of the corpus code works without it.

Pipeline for one utterance:

1. Timing comes from the espeak-ng/MBROLA path: its ARPAbet phones with exact durations are
   mapped to VocalTractLab's (German SAMPA) phoneme inventory of the JD3 speaker
   (``ARPABET_TO_VTL``) and written as a phoneme sequence file, framed by 0.1 s pauses so the
   lung pressure can build up before the first phone.
2. ``phoneme_file_to_gesture_file`` makes the gestural score; its duration equals the summed
   segment durations, so the segment times are the phone times of the rendered audio (measured:
   labial closures, LD <= 0, fall inside their /p b m/ segments). The f0 gestures are shifted by
   ``f0_shift_st`` semitones for pitch variety (JD3 alone speaks at about 100 Hz).
3. ``gesture_file_to_audio`` renders 44.1 kHz audio, resampled to 16 kHz with the project's
   polyphase ``StreamingResampler`` (0.6 ms causal lag, ignored); ``gesture_file_to_motor_file``
   gives the tract parameters of the same score, one state per 110 audio samples (2.49 ms),
   state j starting at audio sample 110 j.
4. The tract parameters become the seven controls (``tract_to_controls``); EMA, visemes and
   voicing are added by the dataset from these controls and the phones.

Tract parameters -> controls (each a linear map of the parameter's range from
``get_param_info("tract")`` onto 0..1, clipped): jaw_open <- JA (jaw angle, 0 deg closed .. -7 deg
open); lip_aperture <- LD (lip distance) over 0 .. max, contact when LD <= 0; lip_protrusion <- LP
(min .. max); lip_spread <- 1 - lip_protrusion (VocalTractLab has no spreading parameter, and its lips
spread as they retract); tongue_tip_height <- TTY; tongue_body_height <- TCY (tongue body centre);
tongue_body_front <- TCX (x points forward).
"""

from __future__ import annotations

import importlib
import logging
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np
import numpy.typing as npt

from bridge.audio.resample import resample
from bridge.corpus.mbrola import Utterance
from bridge.errors import ModelError
from bridge.features.logmel import SAMPLE_RATE_HZ
from bridge.frames import F32
from bridge.phonetics import normalize_phone

log = logging.getLogger(__name__)

F64 = npt.NDArray[np.float64]
VOICE = "vtl-JD3"
_EDGE_PAUSE_S = 0.1
# Peak level of the rendered paragraph (VTL's raw output peaks near 0.08); augmentation varies the gain.
_PEAK = 0.5

# ARPAbet -> VocalTractLab SAMPA (JD3 speaker, German inventory). English sounds German lacks take
# the nearest German phoneme: /ae/ -> E, /ah/ -> a, /r er/ -> 6 (vocalised r, an approximant-like
# central vowel), /w/ -> u (VTL has no /w/; a short rounded u carries its lip rounding), the flap -> d.
# Diphthongs map to VTL's own where German has them (aI aU OY), else to the long monophthong.
ARPABET_TO_VTL: dict[str, str] = {
    "AA": "a:", "AE": "E", "AH": "a", "AO": "O", "AX": "@", "EH": "E", "ER": "6", "IH": "I",
    "IY": "i:", "UH": "U", "UW": "u:", "OH": "o", "EY": "e:", "OW": "o:", "AY": "aI", "AW": "aU",
    "OY": "OY", "P": "p", "B": "b", "T": "t", "D": "d", "K": "k", "G": "g", "DX": "d", "CH": "tS",
    "JH": "dZ", "F": "f", "V": "v", "TH": "T", "DH": "D", "S": "s", "Z": "z", "SH": "S", "ZH": "Z",
    "HH": "h", "M": "m", "N": "n", "NG": "N", "L": "l", "R": "6", "W": "u", "Y": "j", "SIL": "",
}  # fmt: skip

# Per control: (tract parameter, bound that maps to 0, bound that maps to 1); "min"/"max" from get_param_info.
_CONTROL_SOURCES: tuple[tuple[str, str, str], ...] = (
    ("JA", "max", "min"),  # jaw_open: 0 deg closed, the most negative angle open
    ("LD", "zero", "max"),  # lip_aperture: contact at LD <= 0
    ("LP", "min", "max"),  # lip_protrusion
    ("LP", "max", "min"),  # lip_spread: complement of protrusion
    ("TTY", "min", "max"),  # tongue_tip_height
    ("TCY", "min", "max"),  # tongue_body_height
    ("TCX", "min", "max"),  # tongue_body_front
)


@dataclass(frozen=True, slots=True)
class VtlUtterance:
    """VocalTractLab speech and the articulation that made it.

    Attributes:
        utterance: 16 kHz audio and ARPAbet phones on the audio's own timeline.
        state_times_s: (n,) start time of every tract state.
        controls: (n, 7) controls 0..1 per tract state, CONTROL_NAMES order.
    """

    utterance: Utterance
    state_times_s: F64
    controls: F32

    def controls_at(self, times_s: F64) -> F32:
        """Controls linearly interpolated at ``times_s`` (held at the ends)."""
        cols = [np.interp(times_s, self.state_times_s, self.controls[:, k]) for k in range(self.controls.shape[1])]
        return np.stack(cols, axis=1).astype(np.float32)


def _api() -> ModuleType:
    try:
        return importlib.import_module("vocaltractlab_cython")
    except ImportError as e:
        raise ModelError("the VocalTractLab corpus needs vocaltractlab-cython (requirements-dev.txt)") from e


def tract_param_ranges() -> dict[str, tuple[float, float]]:
    """(min, max) of every VocalTractLab tract parameter, by name."""
    return {p["name"]: (float(p["min"]), float(p["max"])) for p in _api().get_param_info("tract")}


def tract_to_controls(params: F64, names: list[str], ranges: dict[str, tuple[float, float]]) -> F32:
    """(n, 19) tract parameters (columns named by ``names``) -> (n, 7) controls in 0..1."""
    cols = []
    for name, lo_key, hi_key in _CONTROL_SOURCES:
        bounds = {"min": ranges[name][0], "max": ranges[name][1], "zero": 0.0}
        lo, hi = bounds[lo_key], bounds[hi_key]
        cols.append((params[:, names.index(name)] - lo) / (hi - lo))
    out: F32 = np.clip(np.stack(cols, axis=1), 0.0, 1.0).astype(np.float32)
    return out


def phoneme_sequence(phones: list[tuple[str, float, float]]) -> str:
    """VocalTractLab's segment sequence file for timed ARPAbet phones (gaps become pauses)."""
    lines = []
    t = 0.0
    for name, start_s, end_s in phones:
        if start_s > t + 1e-6:
            lines.append(f"name = ; duration_s = {start_s - t:.6f};")
        sampa = ARPABET_TO_VTL[normalize_phone(name)]
        lines.append(f"name = {sampa}; duration_s = {end_s - max(start_s, t):.6f};")
        t = end_s
    return "\n".join(lines) + "\n"


def _shift_f0(score: str, shift_st: float) -> str:
    """Add ``shift_st`` semitones to every f0 gesture of a gestural score."""

    def block(m: re.Match[str]) -> str:
        return re.sub(r'value="([-0-9.]+)"', lambda v: f'value="{float(v.group(1)) + shift_st:.6f}"', m.group(0))

    return re.sub(r'<gesture_sequence type="f0-gestures".*?</gesture_sequence>', block, score, flags=re.S)


def _read_tract_states(motor_file: Path, n_params: int) -> F64:
    """Tract rows of a motor (tract sequence) file: glottis and tract lines alternate per state."""
    lines = [ln for ln in motor_file.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    n_states = int(lines[1])
    rows = [np.array(lines[2 + 2 * j + 1].split(), dtype=np.float64) for j in range(n_states)]
    states = np.stack(rows)
    if states.shape[1] != n_params:
        raise ModelError(f"VocalTractLab motor file has {states.shape[1]} tract parameters, expected {n_params}")
    return states


def synthesize_vtl(phones: list[tuple[str, float, float]], f0_shift_st: float = 0.0) -> VtlUtterance:
    """Render timed ARPAbet phones with VocalTractLab's JD3 speaker.

    Args:
        phones: (ARPAbet phone, start_s, end_s) in time order, e.g. ``mbrola.synthesize(...).phones``.
        f0_shift_st: semitones added to VocalTractLab's intonation.

    Returns:
        16 kHz audio, the phones moved by the leading pause, and the controls of every tract state.

    Raises:
        ModelError: vocaltractlab-cython is missing or VocalTractLab failed.
    """
    api = _api()
    timed = [("SIL", 0.0, _EDGE_PAUSE_S)]
    timed += [(n, a + _EDGE_PAUSE_S, b + _EDGE_PAUSE_S) for n, a, b in phones]
    end_s = timed[-1][2]
    timed.append(("SIL", end_s, end_s + _EDGE_PAUSE_S))
    ranges = tract_param_ranges()
    names = list(ranges)
    constants = api.get_constants()
    sr_vtl, per_state = int(constants["sr_audio"]), int(constants["n_samples_per_state"])
    with tempfile.TemporaryDirectory() as tmp:
        seq, ges, motor = Path(tmp) / "seq.txt", Path(tmp) / "ges.txt", Path(tmp) / "motor.txt"
        seq.write_text(phoneme_sequence(timed))
        try:
            api.phoneme_file_to_gesture_file(str(seq), str(ges))
            ges.write_text(_shift_f0(ges.read_text(), f0_shift_st))
            audio = np.asarray(api.gesture_file_to_audio(str(ges)), dtype=np.float64)
            api.gesture_file_to_motor_file(str(ges), str(motor))
        except api.VtlApiError as e:
            raise ModelError(f"VocalTractLab failed: {e}") from e
        states = _read_tract_states(motor, len(names))
    if audio.size == 0 or not np.any(audio):
        raise ModelError("VocalTractLab rendered silence")
    audio = audio * (_PEAK / np.abs(audio).max())
    audio16 = resample(audio.astype(np.float32), sr_vtl, SAMPLE_RATE_HZ)
    utt = Utterance(np.asarray(audio16, dtype=np.float32), SAMPLE_RATE_HZ, timed, VOICE)
    times = np.arange(states.shape[0]) * per_state / sr_vtl
    return VtlUtterance(utt, times, tract_to_controls(states, names, ranges))
