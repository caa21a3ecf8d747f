"""Phone table and coarticulation: closures, lip-teeth contact, names, shapes."""

from __future__ import annotations

import numpy as np
import pytest

from bridge.errors import ConfigError
from bridge.frames import CONTROL_NAMES, VISEMES
from bridge.phonetics import phones_to_model_output
from bridge.phonetics.dynamics import expand_segments
from bridge.phonetics.table import PHONES, controls_to_ema, ema_to_controls, normalize_phone

LIP = CONTROL_NAMES.index("lip_aperture")
JAW = CONTROL_NAMES.index("jaw_open")


def _frames(start_s: float, end_s: float) -> slice:
    return slice(int(start_s * 100), int(end_s * 100))


def test_bilabial_closes_the_lips_and_open_vowel_opens_them() -> None:
    out = phones_to_model_output([("AA1", 0.1, 0.3), ("M", 0.3, 0.38), ("AA1", 0.38, 0.6)])
    assert out.controls[_frames(0.32, 0.36), LIP].max() == 0.0
    assert out.controls[_frames(0.31, 0.37), LIP].max() < 0.01
    assert out.controls[_frames(0.15, 0.25), LIP].min() > 0.5
    assert out.controls[_frames(0.15, 0.25), JAW].min() > 0.6
    assert out.visemes[34].argmax() == VISEMES.index("PP")


def test_labiodental_brings_lip_to_teeth() -> None:
    out = phones_to_model_output([("AA1", 0.1, 0.3), ("F", 0.3, 0.42), ("AA1", 0.42, 0.6)])
    assert out.controls[_frames(0.34, 0.38), LIP].max() < 0.12
    assert out.visemes[36].argmax() == VISEMES.index("FF")


def test_output_contract() -> None:
    out = phones_to_model_output(
        [("HH", 0.0, 0.05), ("AH0", 0.05, 0.1), ("L", 0.1, 0.15), ("OW1", 0.15, 0.3)], n_frames=40
    )
    assert out.n_frames == 40 and out.ema.shape == (40, 12) and out.controls.shape == (40, 7)
    assert np.allclose(out.visemes.sum(axis=1), 1.0, atol=1e-5)
    assert np.all((out.controls >= 0) & (out.controls <= 1))
    assert np.all((out.voicing >= 0) & (out.voicing <= 1))
    assert out.visemes[-1].argmax() == VISEMES.index("sil")


def test_lip_aperture_ema_is_upper_minus_lower_lip() -> None:
    out = phones_to_model_output([("AA1", 0.0, 0.2), ("P", 0.2, 0.3), ("IY1", 0.3, 0.5)])
    aperture_mm = out.ema[:, 3] - out.ema[:, 5]
    assert np.corrcoef(aperture_mm, out.controls[:, LIP])[0, 1] > 0.99


def test_phone_names() -> None:
    assert normalize_phone("ah0") == "AX"
    assert normalize_phone("AH1") == "AH"
    assert normalize_phone("sil") == "SIL"
    assert [s[0] for s in expand_segments([("AY1", 0.1, 0.3)], 0.4)] == ["SIL", "AA", "IH", "SIL"]
    with pytest.raises(ConfigError):
        normalize_phone("QQ")
    with pytest.raises(ConfigError):
        phones_to_model_output([("AA", 0.3, 0.1)])


def test_table_covers_arpabet() -> None:
    arpabet = "AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH UH UW V W Y Z ZH"
    for p in arpabet.split():
        normalize_phone(p)
    assert all(t.viseme in VISEMES for t in PHONES.values())


def test_ema_to_controls_inverts_the_table_map() -> None:
    targets = np.array([p.controls for p in PHONES.values()], dtype=np.float32).clip(0.0, 1.0)
    np.testing.assert_allclose(ema_to_controls(controls_to_ema(targets)), targets, atol=1e-5)
    # EMA beyond any posture the table can make still gives controls inside 0..1.
    wild = ema_to_controls(np.full((1, 12), 100.0, dtype=np.float32))
    assert wild.min() >= 0.0 and wild.max() <= 1.0


def test_pause_posture_holds_lips_apart_then_relaxes_to_rest() -> None:
    phones = [("AA1", 0.3, 0.5), ("M", 0.5, 0.58), ("AA1", 0.58, 0.8)]
    held = phones_to_model_output(phones, n_frames=300).controls
    closed = phones_to_model_output(phones, n_frames=300, pause_posture=False).controls
    # Stream start and the first 0.5 s after speech: speech-ready, lips about 2 mm apart.
    assert np.allclose(held[_frames(0.0, 0.15), LIP], 0.10, atol=0.01)
    assert np.allclose(held[_frames(0.95, 1.3), LIP], 0.10, atol=0.01)
    assert held[_frames(1.1, 1.3), JAW].min() > closed[_frames(1.1, 1.3), JAW].max() + 0.05
    # Later in a long silence the lips close, as they always do without the posture.
    assert held[_frames(2.8, 3.0), LIP].max() < 0.005
    assert closed[_frames(1.1, 1.3), LIP].max() == 0.0
    # The bilabial inside speech still closes the lips.
    assert held[_frames(0.52, 0.56), LIP].max() == 0.0
