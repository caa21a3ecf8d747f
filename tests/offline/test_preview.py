"""avatar-bridge preview: a playable MP4 with video and audio, and a curve plot."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from bridge.cli import main
from bridge.offline.face2d import FaceRenderer
from bridge.offline.take import Take
from tests.conftest import EXAMPLE_WAV
from tests.offline.helpers import pose


def probe(path: Path) -> str:
    """ffmpeg's description of a media file (it exits non-zero without an output; the text is on stderr)."""
    run = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True)
    return run.stderr.decode(errors="replace")


def test_preview_mp4_has_h264_video_and_aac_audio(tmp_path: Path) -> None:
    x, rate = sf.read(str(EXAMPLE_WAV), dtype="float32")
    src = tmp_path / "clip.wav"
    sf.write(str(src), x[: int(1.5 * rate)], rate)
    out = tmp_path / "clip.mp4"
    png = tmp_path / "clip.png"
    assert main(["preview", str(src), "-o", str(out), "--plot", str(png), "--size", "160"]) == 0
    info = probe(out)
    assert re.search(r"Video: h264.*160x160", info), info
    assert re.search(r"Audio: aac.*16000 Hz", info), info
    duration = re.search(r"Duration: (\d+):(\d+):([\d.]+)", info)
    assert duration is not None
    assert float(duration.group(3)) == pytest.approx(1.5, abs=0.1)
    n_frames, _ = imageio_ffmpeg.count_frames_and_secs(str(out))
    assert n_frames == pytest.approx(45, abs=2)  # 30 fps
    with Image.open(png) as img:
        assert img.format == "PNG" and img.width > 600


def test_preview_needs_an_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preview", str(EXAMPLE_WAV)]) == 2
    assert "-o OUT.mp4" in capsys.readouterr().err


def test_face_drawing_follows_the_pose() -> None:
    """The drawn mouth opens with the jaw, the eyes close with a blink, the head turns with yaw."""
    r = FaceRenderer(200)

    def dark_pixels(img: Image.Image, box: tuple[int, int, int, int]) -> int:
        a = np.asarray(img.crop(box), dtype=int)
        return int(((a[..., 0] < 110) & (a[..., 1] < 60)).sum())  # mouth cavity colour

    mouth_box = (60, 120, 140, 190)
    closed = r.render(pose("sil", 0.0))
    opened = r.render(pose("aa", 0.8, 1.0))
    assert dark_pixels(opened, mouth_box) > dark_pixels(closed, mouth_box) + 100

    def white_pixels(img: Image.Image) -> int:
        return int((np.asarray(img, dtype=int).min(axis=2) > 240).sum())

    assert white_pixels(r.render(pose(shapes={"eyeBlinkLeft": 1.0, "eyeBlinkRight": 1.0}))) < white_pixels(closed) / 4

    def face_centre_x(img: Image.Image) -> float:
        a = np.asarray(img, dtype=int)
        skin = (abs(a[..., 0] - 236) < 8) & (abs(a[..., 1] - 200) < 8)
        return float(np.nonzero(skin)[1].mean())

    turned = r.render(pose(joints={"head_yaw_rad": 0.5}))
    assert face_centre_x(turned) > face_centre_x(closed) + 10  # the subject's left is the viewer's right


def test_viseme_runs_merge_frames_and_span_them() -> None:
    from bridge.offline.plot import viseme_runs

    times = (np.arange(6) + 0.5) / 60
    runs = viseme_runs(["sil", "sil", "PP", "aa", "aa", "aa"], times.astype(np.float32), 60)
    assert [r[0] for r in runs] == ["sil", "PP", "aa"]
    assert runs[0][1] == pytest.approx(0.0, abs=1e-6) and runs[-1][2] == pytest.approx(0.1, abs=1e-6)
    assert all(a[2] == pytest.approx(b[1], abs=1e-6) for a, b in zip(runs, runs[1:], strict=False))


@pytest.mark.parametrize("flag", ["-o", "--plot"])
def test_preview_never_overwrites_its_input(tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str) -> None:
    src = tmp_path / "p1.wav"
    src.write_bytes(EXAMPLE_WAV.read_bytes())
    assert main(["preview", str(src), flag, str(src)]) == 2
    assert f"{flag} {src}: would overwrite the input {src}" in capsys.readouterr().err
    assert src.read_bytes() == EXAMPLE_WAV.read_bytes()


def test_an_output_under_a_file_is_one_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "afile").write_text("hi\n")
    assert main(["preview", str(EXAMPLE_WAV), "-o", str(tmp_path / "afile" / "x.mp4")]) == 1
    err = capsys.readouterr().err
    assert f"x.mp4: cannot write ({tmp_path / 'afile'} is a file, not a folder)" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--plot", "{d}/x.xyz"], "unsupported picture format '.xyz' (use one of"),
        (["--plot", "{d}/x.wav"], "unsupported picture format '.wav'"),
        (["--plot", "{d}/x"], "unsupported picture format '(no suffix)'"),
        (["--size", "63"], "--size: must be an even number"),
        (["--size", "40000"], "--size: must be an even number of pixels from 64 to 4096 (got 40000)"),
    ],
    ids=["xyz", "wav", "no-suffix", "size", "huge-size"],
)
def test_bad_preview_options_stop_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    import bridge.offline.preview as preview

    def no_bake(*args: object) -> None:
        raise AssertionError("baked before the options were checked")

    monkeypatch.setattr(preview, "make_take", no_bake)
    video = tmp_path / "x.mp4"
    assert main(["preview", str(EXAMPLE_WAV), "-o", str(video), *(a.format(d=tmp_path) for a in args)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not video.exists()


@pytest.mark.parametrize("name", ["x.jsonl", "x.wav", "x"])
def test_a_video_name_that_is_not_one_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str) -> None:
    """An MP4 written as x.jsonl would pass for animation data (and x.wav for audio a later bake reads)."""
    assert main(["preview", str(EXAMPLE_WAV), "-o", str(tmp_path / "new" / name)]) == 2
    err = capsys.readouterr().err
    assert "preview writes an MP4 video; name it x.mp4" in err and len(err.strip().splitlines()) == 1, err
    assert list(tmp_path.iterdir()) == []  # not even the folder it would have gone into


def test_an_interrupted_preview_leaves_no_video(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ffmpeg used to finalize the frames it had into a short video under the final name."""
    import bridge.offline.preview as preview

    real = preview._caption

    def interrupted(take: Take, k: int) -> str:
        if k >= 20:
            raise KeyboardInterrupt
        return real(take, k)

    monkeypatch.setattr(preview, "_caption", interrupted)
    assert main(["preview", str(EXAMPLE_WAV), "-o", str(tmp_path / "x.mp4"), "--size", "64"]) == 130
    assert list(tmp_path.iterdir()) == []


def test_a_clip_shorter_than_one_video_frame_still_has_its_picture(tmp_path: Path) -> None:
    """-shortest cut a 20 ms clip's one video frame away: an MP4 with sound and no picture, exit 0."""
    x, rate = sf.read(str(EXAMPLE_WAV), dtype="float32")
    src = tmp_path / "blip.wav"
    sf.write(str(src), x[int(rate) : int(1.02 * rate)], rate)
    out = tmp_path / "blip.mp4"
    assert main(["preview", str(src), "-o", str(out), "--size", "64"]) == 0
    assert re.search(r"Video: h264.*64x64", probe(out)), probe(out)
