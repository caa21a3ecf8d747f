import numpy as np
import pytest

from bridge.frames import FacePose
from bridge.pipeline import FrameClock


def pose(value: float) -> FacePose:
    z = np.full(52, value, dtype=np.float32)
    return FacePose(
        blendshapes=z, joints=np.zeros(12, np.float32), ema=np.zeros(12, np.float32),
        visemes=np.zeros(15, np.float32), vrm=np.zeros(10, np.float32), viseme="sil", voice=value,
    )


@pytest.mark.parametrize("fps", [30, 60, 100])
def test_output_rate_and_times(fps: int) -> None:
    clock = FrameClock(fps)
    out = []
    for i in range(200):  # 2 s of 100 Hz poses whose value is their time
        t = (i + 0.5) * 0.01
        out.extend(clock.push(t, 0.0, pose(t)))
    times = np.array([t for t, _, _ in out])
    assert len(out) == pytest.approx(2 * fps, abs=1)
    np.testing.assert_allclose(np.diff(times), 1 / fps, atol=1e-9)
    # Linear interpolation between the bracketing poses reproduces the time ramp.
    values = np.array([p.blendshapes[0] for _, _, p in out])
    np.testing.assert_allclose(values[times > 0.005], times[times > 0.005], atol=1e-6)


def test_an_interpolated_frame_names_the_largest_of_its_blended_visemes() -> None:
    # The label used to come from the nearer pose: 42 % of the way from (aa 0.5, PP 0.4) to PP alone
    # is nearer the first, whose label is aa, but the blended weights favour PP (0.65 against 0.29).
    from bridge.frames import VISEMES

    def viseme_pose(weights: dict[str, float]) -> FacePose:
        v = np.zeros(15, np.float32)
        for name, w in weights.items():
            v[VISEMES.index(name)] = w
        return FacePose(
            blendshapes=np.zeros(52, np.float32), joints=np.zeros(12, np.float32), ema=np.zeros(12, np.float32),
            visemes=v, vrm=np.zeros(10, np.float32), viseme=VISEMES[int(np.argmax(v))], voice=1.0,
        )

    clock = FrameClock(60)
    clock.push(0.0, 0.0, viseme_pose({"aa": 0.5, "PP": 0.4, "sil": 0.1}))
    (t, _, p), _ = clock.push(0.04, 0.0, viseme_pose({"PP": 1.0}))  # frames at 1/60 and 2/60 s
    assert t == pytest.approx(1 / 60)  # 42 % of the way
    assert p.viseme == VISEMES[int(np.argmax(p.visemes))] == "PP"
