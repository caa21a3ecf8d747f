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
