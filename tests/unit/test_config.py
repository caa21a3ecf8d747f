from pathlib import Path

import pytest

from bridge.config import load_config
from bridge.errors import ConfigError


def test_defaults_are_valid() -> None:
    cfg = load_config(None, {})
    assert cfg.output.fps == 60
    assert cfg.publish.zmq == ("tcp://127.0.0.1:5555",)


def test_file_then_cli_overrides(tmp_path: Path) -> None:
    f = tmp_path / "bridge.toml"
    f.write_text('[output]\nfps = 30\nsubject = "kim"\n[face]\nmood = "happy"\nintensity = 0.4\n')
    cfg = load_config(f, {"face": {"intensity": 0.9}})
    assert (cfg.output.fps, cfg.output.subject, cfg.face.mood, cfg.face.intensity) == (30, "kim", "happy", 0.9)


@pytest.mark.parametrize(
    ("toml", "field"),
    [
        ("[output]\nfps = 25\n", "output.fps"),
        ("[face]\nintensity = 1.5\n", "face.intensity"),
        ('[face]\nmood = "bored"\n', "face.mood"),
        ("[vad]\naggressiveness = 7\n", "vad.aggressiveness"),
        ('[audio]\nbuffer_s = "lots"\n', "audio.buffer_s"),
        ("[audio]\nfrobnicate = 1\n", "audio.frobnicate"),
        ("[nonsense]\nx = 1\n", "nonsense"),
        ('[publish]\nosc = ["localhost"]\n', "publish.osc[0]"),
        ("[log]\nstatus = 3\n", "log.status"),
        ("[face]\nseed = -1\n", "face.seed: must be >= 0 (got -1)"),
        ('[audio]\ninput = ""\n', "audio.input: must not be empty"),
    ],
    ids=[
        "fps",
        "intensity",
        "mood",
        "vad",
        "type",
        "unknown key",
        "unknown section",
        "hostport",
        "bool",
        "seed",
        "empty input",
    ],
)
def test_bad_values_name_the_field(tmp_path: Path, toml: str, field: str) -> None:
    f = tmp_path / "bad.toml"
    f.write_text(toml)
    with pytest.raises(ConfigError) as e:
        load_config(f, {})
    assert str(e.value).startswith(field)


def test_toml_syntax_error_names_the_file(tmp_path: Path) -> None:
    f = tmp_path / "broken.toml"
    f.write_text("[output\nfps = 30")
    with pytest.raises(ConfigError, match="broken.toml"):
        load_config(f, {})
