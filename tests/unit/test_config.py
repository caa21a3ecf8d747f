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
        ('[publish]\nzmq = ["tcp://127.0.0.1:99999"]\n', "publish.zmq[0]"),
        ('[publish]\ncontrol_zmq = "tcp://127.0.0.1:70000"\n', "publish.control_zmq"),
        ('[publish]\ncontrol_zmq = "bogus"\n', "publish.control_zmq"),
        ('[publish]\nzmq = ["tcp://127.0.0.1"]\n', "publish.zmq[0]"),
        ('[output]\nsubject = "cam\\n1"\n', "output.subject"),
        ('[output]\nsubject = "cam\\t1"\n', "output.subject"),
        ("[face]\nseed = -1\n", "face.seed: must be >= 0 (got -1)"),
        ('[audio]\ninput = ""\n', "audio.input: must not be empty"),
        ("[audio]\nreopen_s = -1\n", "audio.reopen_s: must be between 0 and 3600 (got -1.0)"),
        ("[audio]\nreopen_s = nan\n", "audio.reopen_s: must be between 0 and 3600 (got nan)"),
        ("[face]\nintensity = " + "9" * 400 + "\n", "face.intensity: expected a number"),  # OverflowError
        ('[publish]\nvmc = ["127.0.0.1:\u00b2"]\n', "publish.vmc[0]: expected HOST:PORT"),  # "2" is a digit to isdigit
        ('[publish]\nzmq = ["tcp://127.0.0.1:\u00b2"]\n', "publish.zmq[0]: expected tcp://HOST:PORT"),
        ("x = " + "[" * 100_000 + "]" * 100_000 + "\n", "config file"),  # RecursionError in tomllib
        ('[publish]\ncontrol_bind = ""\n', "publish.control_bind: must not be empty"),  # bound every interface
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
        "zmq port wraps",
        "control port wraps",
        "control not an endpoint",
        "zmq no port",
        "subject newline",
        "subject tab",
        "seed",
        "empty input",
        "negative reopen window",
        "nan reopen window",
        "400-digit number",
        "superscript port",
        "superscript zmq port",
        "nested 100000 deep",
        "empty control bind",
    ],  # fmt: skip
)
def test_bad_values_name_the_field(tmp_path: Path, toml: str, field: str) -> None:
    f = tmp_path / "bad.toml"
    f.write_text(toml)
    with pytest.raises(ConfigError) as e:
        load_config(f, {})
    assert str(e.value).startswith(field)


@pytest.mark.parametrize("endpoint", ["tcp://127.0.0.1:*", "tcp://127.0.0.1:0", "tcp://[::1]:5555", "ipc:///tmp/x"])
def test_zmq_endpoints_with_any_port_ipv6_or_ipc_are_accepted(endpoint: str) -> None:
    cfg = load_config(None, {"publish": {"zmq": [endpoint], "control_zmq": endpoint}})
    assert cfg.publish.zmq == (endpoint,) and cfg.publish.control_zmq == endpoint


def test_toml_syntax_error_names_the_file(tmp_path: Path) -> None:
    f = tmp_path / "broken.toml"
    f.write_text("[output\nfps = 30")
    with pytest.raises(ConfigError, match="broken.toml"):
        load_config(f, {})


def test_a_config_saved_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    """Windows Notepad writes a BOM: 'Invalid statement (at line 1, column 1)'."""
    f = tmp_path / "notepad.toml"
    f.write_bytes(b"\xef\xbb\xbf[output]\nfps = 30\n")
    assert load_config(f, {}).output.fps == 30


def test_stdin_takes_the_sample_rates_files_take() -> None:
    """stdin took 4-384 kHz where files took 1-768 kHz: an 8 kHz telephony feed worked, a 2 kHz one not."""
    for rate in (1000, 768000):
        assert load_config(None, {"audio": {"stdin_rate_hz": rate}}).audio.stdin_rate_hz == rate
    for rate in (999, 768001):
        with pytest.raises(ConfigError, match="audio.stdin_rate_hz: must be between 1000 and 768000"):
            load_config(None, {"audio": {"stdin_rate_hz": rate}})


def test_the_reopen_window_defaults_to_30_s_and_0_turns_it_off() -> None:
    assert load_config(None, {}).audio.reopen_s == 30.0
    assert load_config(None, {"audio": {"reopen_s": 0}}).audio.reopen_s == 0.0


def test_paths_in_a_config_file_are_relative_to_its_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A studio config beside its rig profile worked only when run from that folder.
    studio = tmp_path / "studio"
    (studio / "rigs").mkdir(parents=True)
    (studio / "rigs" / "face.toml").write_text("[channels.jaw]\nfrom = { jawOpen = 1.0 }\n")
    (studio / "line.wav").write_bytes(b"")
    (studio / "bridge.toml").write_text(
        '[face]\nprofile = "rigs/face.toml"\n[model]\nweights = "w/model.npz"\n[audio]\ninput = "line.wav"\n'
    )
    monkeypatch.chdir(tmp_path)
    cfg = load_config(studio / "bridge.toml", {})
    assert cfg.face.profile == str(studio / "rigs" / "face.toml")
    assert cfg.model.weights == str(studio / "w" / "model.npz")
    assert cfg.audio.input == str(studio / "line.wav")
    # Names stay names, and the command line stays relative to the working directory.
    (studio / "bridge.toml").write_text('[face]\nprofile = "vrm0"\n[audio]\ninput = "pulse"\n')
    cfg = load_config(studio / "bridge.toml", {"face": {"profile": "mine.toml"}})
    assert (cfg.face.profile, cfg.audio.input) == ("mine.toml", "pulse")


def test_a_config_files_true_can_be_turned_off_for_one_run(tmp_path: Path) -> None:
    from bridge.cli import build_parser, config_from_args

    f = tmp_path / "bridge.toml"
    f.write_text("[vad]\nrequire_voicing = true\n[face]\nauto_mood = true\n")
    parser = build_parser()
    on = config_from_args(parser.parse_args(["bake", "x.wav", "--config", str(f)]))
    assert on.vad.require_voicing and on.face.auto_mood
    off = config_from_args(parser.parse_args(["bake", "x.wav", "--config", str(f), "--no-require-voicing",
                                              "--no-auto-mood"]))  # fmt: skip
    assert not off.vad.require_voicing and not off.face.auto_mood


@pytest.mark.parametrize(("enabled", "flag"), [("false", "--vad"), ("true", "--no-vad")], ids=["on", "off"])
def test_vad_can_be_switched_either_way_against_a_config_file(tmp_path: Path, enabled: str, flag: str) -> None:
    from bridge.cli import build_parser, config_from_args

    f = tmp_path / "bridge.toml"
    f.write_text(f"[vad]\nenabled = {enabled}\n")
    parser = build_parser()
    for command in (["bake", "x.wav", "--config", str(f)], ["run", "--config", str(f)]):
        assert config_from_args(parser.parse_args(command)).vad.enabled == (enabled == "true")
        assert config_from_args(parser.parse_args([*command, flag])).vad.enabled == (flag == "--vad")


def test_secondary_motion_strengths_override_a_config_file_both_ways(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bridge.cli import build_parser, config_from_args, main

    f = tmp_path / "bridge.toml"
    f.write_text("[face]\nblink = 0.0\ngaze = 0.5\nhead = 0.0\nbreath = 1.0\n")
    parser = build_parser()
    base = ["run", "--config", str(f)]
    cfg = config_from_args(parser.parse_args([*base, "--blink-strength", "1", "--head-strength", "0.3"]))
    assert (cfg.face.blink, cfg.face.gaze, cfg.face.head, cfg.face.breath) == (1.0, 0.5, 0.3, 1.0)
    cfg = config_from_args(parser.parse_args([*base, "--no-gaze", "--no-breath"]))
    assert (cfg.face.blink, cfg.face.gaze, cfg.face.head, cfg.face.breath) == (0.0, 0.0, 0.0, 0.0)
    assert main(["bake", "x.wav", "--blink-strength", "2"]) == 2
    assert "face.blink" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # both at once is a usage error, not a silent pick
        parser.parse_args([*base, "--no-blink", "--blink-strength", "1"])
