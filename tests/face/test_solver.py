"""Mouth solver properties: ranges, symmetry, closure, jaw/lip consistency, rounding vs spreading."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.face.solver import (
    APERTURE_AT_MAX,
    ROUNDING_NARROWS,
    Articulation,
    gate_visemes,
    mouth_opening,
    rounding_narrowing,
    solve_mouth,
    vrm_vowels,
)
from bridge.frames import ARKIT_INDEX, ARKIT_NAMES, VISEMES, VRM_PRESETS

unit = st.floats(0.0, 1.0)
signed = st.floats(-1.0, 1.0)


@st.composite
def articulations(draw: st.DrawFn, aperture: st.SearchStrategy[float] = unit) -> Articulation:
    vis = np.array(draw(st.lists(unit, min_size=15, max_size=15)), dtype=np.float32) + 1e-3
    return Articulation(
        jaw=draw(unit),
        aperture=draw(aperture),
        protrusion=draw(unit),
        spread=draw(unit),
        tongue_tip_up=draw(signed),
        tongue_body_up=draw(signed),
        tongue_front=draw(signed),
        visemes=vis / vis.sum(),
        voice=draw(unit),
        narrowing=draw(st.floats(0.0, ROUNDING_NARROWS)),
    )


def pairs() -> list[tuple[int, int]]:
    return [(ARKIT_INDEX[n], ARKIT_INDEX[n[:-4] + "Right"]) for n in ARKIT_NAMES if n.endswith("Left")]


@settings(max_examples=300, deadline=None)
@given(articulations())
def test_weights_in_range_and_symmetric(art: Articulation) -> None:
    bs = solve_mouth(art)
    assert bs.shape == (52,)
    assert np.all(bs >= 0.0) and np.all(bs <= 1.0)
    for left, right in pairs():
        assert bs[left] == pytest.approx(bs[right])


@settings(max_examples=300, deadline=None)
@given(articulations())
def test_mouth_opening_tracks_lip_aperture(art: Articulation) -> None:
    bs = solve_mouth(art)
    assert mouth_opening(bs) == pytest.approx(APERTURE_AT_MAX * max(0.0, art.aperture - art.narrowing), abs=1e-5)
    assert bs[ARKIT_INDEX["mouthClose"]] <= bs[ARKIT_INDEX["jawOpen"]] + 1e-6


def test_rounding_narrows_the_lips_without_pressing_them() -> None:
    base = dict(jaw=0.2, aperture=0.1, spread=0.0, tongue_tip_up=0.0, tongue_body_up=0.0, tongue_front=0.0,
                visemes=np.full(15, 1 / 15, dtype=np.float32), voice=1.0)  # fmt: skip
    assert rounding_narrowing(1.0, 0.0) == pytest.approx(ROUNDING_NARROWS)
    assert rounding_narrowing(0.2, 0.6) == 0.0  # spread lips are not rounded
    plain = solve_mouth(Articulation(protrusion=1.0, **base))
    narrowed = solve_mouth(Articulation(protrusion=1.0, narrowing=rounding_narrowing(1.0, 0.0), **base))
    assert mouth_opening(plain) == pytest.approx(APERTURE_AT_MAX * 0.1, abs=1e-6)
    assert mouth_opening(narrowed) == pytest.approx(0.0, abs=1e-6)
    # The lips close into a pucker, not a bilabial press: contact shapes and jaw are those of aperture 0.1.
    for name in ("mouthPressLeft", "mouthRollUpper", "mouthShrugLower", "jawOpen"):
        assert narrowed[ARKIT_INDEX[name]] == plain[ARKIT_INDEX[name]]
    assert narrowed[ARKIT_INDEX["mouthPucker"]] > 0.7


@settings(max_examples=200, deadline=None)
@given(articulations(aperture=st.just(0.0)))
def test_closure_is_lip_contact_with_a_small_jaw(art: Articulation) -> None:
    bs = solve_mouth(art)
    assert mouth_opening(bs) == pytest.approx(0.0, abs=1e-6)
    assert bs[ARKIT_INDEX["jawOpen"]] <= 0.2 * APERTURE_AT_MAX + 1e-6


@settings(max_examples=300, deadline=None)
@given(articulations())
def test_pressed_lips_imply_small_jaw(art: Articulation) -> None:
    bs = solve_mouth(art)
    if bs[ARKIT_INDEX["mouthPressLeft"]] > 0.3:
        assert bs[ARKIT_INDEX["jawOpen"]] < 0.25
        assert mouth_opening(bs) < 0.05


def test_rounding_and_spreading_are_distinct() -> None:
    base = dict(jaw=0.3, tongue_tip_up=0.0, tongue_body_up=0.0, tongue_front=0.0, voice=1.0)
    vis = np.full(15, 1 / 15, dtype=np.float32)
    u = solve_mouth(Articulation(aperture=0.1, protrusion=1.0, spread=0.0, visemes=vis, **base))
    o = solve_mouth(Articulation(aperture=0.7, protrusion=1.0, spread=0.0, visemes=vis, **base))
    i = solve_mouth(Articulation(aperture=0.3, protrusion=0.0, spread=1.0, visemes=vis, **base))
    pucker, funnel, stretch = (ARKIT_INDEX[n] for n in ("mouthPucker", "mouthFunnel", "mouthStretchLeft"))
    assert u[pucker] > 0.5 and u[funnel] < 0.1 and u[stretch] == 0.0
    assert o[funnel] > 0.5 and o[pucker] < 0.1 and o[stretch] == 0.0
    assert i[stretch] > 0.3 and i[pucker] == 0.0 and i[funnel] == 0.0


def test_silent_articulation_is_a_relaxed_closed_mouth() -> None:
    vis = np.zeros(15, dtype=np.float32)
    vis[0] = 1.0
    art = Articulation(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, vis, 0.0)
    assert np.all(solve_mouth(art) == 0.0)
    w = gate_visemes(np.full(15, 1 / 15, dtype=np.float32), 0.0)
    assert w[VISEMES.index("sil")] == 1.0 and w.sum() == 1.0


def test_vrm_vowels_follow_visemes_and_opening() -> None:
    vis = np.zeros(15, dtype=np.float32)
    vis[VISEMES.index("aa")] = 1.0
    art = Articulation(0.8, 0.8, 0.0, 0.2, 0.0, 0.0, 0.0, vis, 1.0)
    vrm = vrm_vowels(art, solve_mouth(art))
    assert vrm[VRM_PRESETS.index("A")] > 0.7
    assert vrm[[VRM_PRESETS.index(v) for v in "IUEO"]].sum() == 0.0
    closed = Articulation(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, vis, 1.0)
    assert vrm_vowels(closed, solve_mouth(closed))[VRM_PRESETS.index("A")] == 0.0
