"""VocalTractLab training data: audio and articulatory targets that match in length and sense."""

from __future__ import annotations

import numpy as np
import pytest

from bridge.corpus.vtl import SAMPLE_RATE_HZ, VtlUtterance, synthesize_vtl, tract_param_ranges, tract_to_controls
from bridge.frames import CONTROL_NAMES

pytest.importorskip("vocaltractlab_cython", reason="vocaltractlab-cython (dev-time VTL generator) is not installed")

JAW, LIP = CONTROL_NAMES.index("jaw_open"), CONTROL_NAMES.index("lip_aperture")
# "ah ma ba ee" with hand-set timing: closures of 100 ms, open and close vowels of 200 ms.
PHONES = [
    ("AA", 0.0, 0.2), ("M", 0.2, 0.3), ("AA", 0.3, 0.5), ("B", 0.5, 0.6), ("AA", 0.6, 0.8), ("IY", 0.8, 1.0),
]  # fmt: skip


@pytest.fixture(scope="module")
def vtl() -> VtlUtterance:
    return synthesize_vtl(PHONES)


def _inner(vtl: VtlUtterance, name: str) -> list[np.ndarray]:
    """Controls in the middle half of every segment called ``name``."""
    out = []
    for phone, start_s, end_s in vtl.utterance.phones:
        if phone == name:
            q = 0.25 * (end_s - start_s)
            m = (vtl.state_times_s >= start_s + q) & (vtl.state_times_s <= end_s - q)
            out.append(vtl.controls[m])
    return out


def test_audio_is_speech_of_the_phones_duration(vtl: VtlUtterance) -> None:
    utt = vtl.utterance
    assert utt.sample_rate_hz == SAMPLE_RATE_HZ
    end_s = utt.phones[-1][2]
    assert end_s == pytest.approx(1.2)  # 0.1 s pause each side
    assert utt.samples.size / SAMPLE_RATE_HZ == pytest.approx(end_s, abs=0.01)
    assert vtl.state_times_s[-1] == pytest.approx(end_s, abs=0.01)

    def rms(a_s: float, b_s: float) -> float:
        x = utt.samples[int(a_s * SAMPLE_RATE_HZ) : int(b_s * SAMPLE_RATE_HZ)]
        return float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))

    vowel = rms(0.45, 0.55)  # the second /aa/
    assert vowel > 0.03
    assert rms(0.0, 0.05) < 0.1 * vowel  # leading pause
    assert vowel > 3 * rms(0.63, 0.68)  # the /b/ closure


def test_lips_close_for_m_and_b_and_open_for_aa(vtl: VtlUtterance) -> None:
    for name in ("M", "B"):
        for seg in _inner(vtl, name):
            assert seg[:, LIP].max() < 0.02, name
    aa = np.concatenate(_inner(vtl, "AA"))
    iy = np.concatenate(_inner(vtl, "IY"))
    assert aa[:, LIP].mean() > 0.15
    assert aa[:, JAW].mean() > iy[:, JAW].mean() + 0.05


def test_training_targets_align_with_the_audio(vtl: VtlUtterance) -> None:
    pytest.importorskip("torch", reason="the training dataset needs torch")
    from bridge.training.dataset import frame_targets, insert_pauses, vtl_frame_controls

    paused = insert_pauses(vtl.utterance, np.random.default_rng(0))
    controls = vtl_frame_controls(vtl, paused)
    targets = frame_targets(paused, controls)
    assert controls.shape == (paused.samples.size // 160, 7)
    assert targets.shape == (controls.shape[0], 35)
    np.testing.assert_array_equal(targets[:, 12:19], controls)
    # Frames inside the shifted /m/ still see closed lips.
    _, m_start_s, m_end_s = paused.phones[2]
    mid = int(0.5 * (m_start_s + m_end_s) * 100)
    assert controls[mid, LIP] < 0.02


def test_parameter_map_stays_in_unit_range() -> None:
    ranges = tract_param_ranges()
    names = list(ranges)
    lo = np.array([ranges[n][0] for n in names])
    hi = np.array([ranges[n][1] for n in names])
    rng = np.random.default_rng(1)
    # Corners, the standard range and values beyond it (a motor file may overshoot a little).
    span = hi - lo
    params = np.concatenate([lo[None], hi[None], rng.uniform(lo - 0.5 * span, hi + 0.5 * span, (500, len(names)))])
    controls = tract_to_controls(params, names, ranges)
    assert controls.shape == (502, 7)
    assert controls.min() >= 0.0 and controls.max() <= 1.0
    assert controls[0, JAW] == 1.0 and controls[1, JAW] == 0.0  # JA -7 deg open, 0 deg closed
    assert controls[0, LIP] == 0.0 and controls[1, LIP] == 1.0  # LD <= 0 is contact
