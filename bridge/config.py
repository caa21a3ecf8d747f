"""Configuration: frozen dataclasses loaded from a TOML file plus CLI overrides, validated by field name."""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from bridge.errors import ConfigError
from bridge.frames import MOODS, subject_problem

OUTPUT_FPS = (30, 60, 100)
# Sample rates of audio, files and stdin alike; beyond them a header is damaged or a flag mistyped.
AUDIO_RATE_RANGE_HZ = (1000, 768000)


@dataclass(frozen=True, slots=True)
class AudioConfig:
    """Where audio comes from.

    Attributes:
        input: "default" (system default microphone, even where a file of that name exists: ``./default``
            is the file), a device name or index, an audio file path, or "-" for raw PCM on stdin.
        fast: play files as fast as possible instead of in real time.
        channel: select one input channel (0-based); None downmixes all channels.
        stdin_rate_hz: sample rate of raw PCM on stdin.
        stdin_channels: interleaved channels of raw PCM on stdin.
        stdin_format: "s16le" or "f32le".
        buffer_s: capacity of the capture ring buffer; on overflow the oldest audio is dropped.
        block_ms: capture block length.
        reopen_s: how long a microphone that stops delivering (unplugged, sound server restarting) is
            tried again, about once a second, with silence streamed meanwhile; 0 ends the run at once.
    """

    input: str = "default"
    fast: bool = False
    channel: int | None = None
    stdin_rate_hz: int = 16000
    stdin_channels: int = 1
    stdin_format: str = "s16le"
    buffer_s: float = 2.0
    block_ms: int = 10
    reopen_s: float = 30.0


@dataclass(frozen=True, slots=True)
class VadConfig:
    """Voice activity detection (webrtcvad).

    Attributes:
        enabled: gate the face to rest in silence.
        aggressiveness: webrtcvad mode 0 (least) to 3 (most aggressive at calling audio non-speech).
        hangover_ms: how long speech is held after the last voiced frame.
        release_ms: time constant of the return to rest once speech has ended.
        require_voicing: webrtcvad's speech counts only while the model has heard voicing in the last
            0.3 s, so keyboard clicks leave the face at rest (and so do a breath before speech and whispers).
    """

    enabled: bool = True
    aggressiveness: int = 2
    hangover_ms: int = 200
    release_ms: int = 120
    require_voicing: bool = False


@dataclass(frozen=True, slots=True)
class ModelConfig:
    """The articulation model.

    Attributes:
        weights: "default" (shipped model) or a path to a weights file made by `avatar-bridge train`.
        lookahead_ms: the model's algorithmic look-ahead (0..30 ms, multiple of 10).
        upstream: optional SSL encoder instead of the shipped model: a local Hugging Face WavLM/HuBERT/
            wav2vec 2.0 directory or an s3prl upstream name found in the local Hugging Face cache.
        head: linear EMA head for the upstream (wav2avatar .pkl or .npz).
        upstream_layer: hidden state the head reads; -1 takes it from the head.
        upstream_chunk_ms: audio per encoder run (latency = chunk + look-ahead).
        upstream_context_ms: audio before each chunk that the encoder also sees.
    """

    weights: str = "default"
    lookahead_ms: int = 30
    upstream: str = ""
    head: str = ""
    upstream_layer: int = -1
    upstream_chunk_ms: int = 200
    upstream_context_ms: int = 200


@dataclass(frozen=True, slots=True)
class FaceConfig:
    """The face solver.

    Attributes:
        profile: rig profile whose channels frames also carry (ZeroMQ face messages, bake JSONL):
            "arkit", "vrm0", "vrm1", "facegood", a path to a profile TOML file, or "none" (no rig channels).
        mood: starting mood, one of MOODS.
        intensity: starting mood intensity 0..1.
        mood_transition_s: time to blend from one mood to another.
        auto_mood: scale expression intensity with arousal estimated from prosody.
        smoothing_ms: output smoothing time constant (adds at most this much lag, capped at 10 ms).
        blink: blink strength 0..1 (0 = off).
        gaze: gaze saccade strength 0..1 (0 = off).
        head: head motion strength 0..1 (0 = off).
        breath: breathing strength 0..1 (0 = off).
        seed: random seed of the secondary motion, so runs are reproducible.
        calibrate_s: seconds of speech used to estimate the speaker's neutral automatically.
    """

    profile: str = "none"
    mood: str = "neutral"
    intensity: float = 1.0
    mood_transition_s: float = 0.5
    auto_mood: bool = False
    smoothing_ms: float = 10.0
    blink: float = 1.0
    gaze: float = 1.0
    head: float = 1.0
    breath: float = 1.0
    seed: int = 0
    calibrate_s: float = 3.0


@dataclass(frozen=True, slots=True)
class OutputConfig:
    """Published frames.

    Attributes:
        fps: output frame rate, one of 30, 60, 100.
        subject: subject name receivers display.
    """

    fps: int = 60
    subject: str = "avatar"


@dataclass(frozen=True, slots=True)
class PublishConfig:
    """Publishers and control endpoints.

    Attributes:
        zmq: ZeroMQ PUB endpoints to bind (empty: no ZeroMQ).
        osc: HOST:PORT targets of the bridge's own OSC address space.
        vmc: HOST:PORT targets of the VMC protocol (39539 Performer/Marionette, 39540 Assistant).
        livelinkface: HOST:PORT targets of Live Link Face packets (Unreal's default port is 11111).
        osc_bundle: send each OSC frame as one bundle.
        vmc_bundle: bundle VMC messages (kept under the MTU); off for receivers that reject bundles.
        vmc_names: "vrm0" presets, "perfectsync" (PascalCase ARKit) or "both".
        control_osc: UDP port of the OSC control channel (None: off).
        control_zmq: ZeroMQ REP endpoint of the control channel (None: off).
        control_bind: address the OSC control channel binds to.
        record: path of a recording of every published frame (None: off).
    """

    zmq: tuple[str, ...] = ("tcp://127.0.0.1:5555",)
    osc: tuple[str, ...] = ()
    vmc: tuple[str, ...] = ()
    livelinkface: tuple[str, ...] = ()
    osc_bundle: bool = True
    vmc_bundle: bool = True
    vmc_names: str = "vrm0"
    control_osc: int | None = None
    control_zmq: str | None = None
    control_bind: str = "127.0.0.1"
    record: str | None = None


@dataclass(frozen=True, slots=True)
class LogConfig:
    """Logging and the live status line.

    Attributes:
        level: "debug", "info", "warning" or "error".
        format: "text" or "json" (machine-readable events).
        status: show the live status line on stderr.
        status_interval_s: how often the status line and status messages update.
    """

    level: str = "info"
    format: str = "text"
    status: bool = True
    status_interval_s: float = 0.5


@dataclass(frozen=True, slots=True)
class Config:
    """Everything the bridge needs; every section has working defaults."""

    audio: AudioConfig = field(default_factory=AudioConfig)
    vad: VadConfig = field(default_factory=VadConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    face: FaceConfig = field(default_factory=FaceConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    publish: PublishConfig = field(default_factory=PublishConfig)
    log: LogConfig = field(default_factory=LogConfig)


def _check_range(name: str, value: float, lo: float, hi: float) -> None:
    if not lo <= value <= hi:
        raise ConfigError(f"{name}: must be between {lo:g} and {hi:g} (got {value!r})")


def _check_choice(name: str, value: object, choices: tuple[object, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{name}: must be one of {', '.join(map(str, choices))} (got {value!r})")


def _check_hostport(name: str, value: str) -> None:
    host, sep, port = value.rpartition(":")
    # isascii: str.isdigit takes "²" as a digit, which int() refuses
    if not sep or not host or not (port.isascii() and port.isdigit()) or not 0 < int(port) < 65536:
        raise ConfigError(f"{name}: expected HOST:PORT with a port 1-65535 (got {value!r})")


def check_zmq_endpoint(name: str, value: str, *, bind: bool = True) -> None:
    """Raises ConfigError unless ``value`` is a ZeroMQ endpoint to bind (tcp port 0-65535 or *: 0 and * pick
    any free port) or, with ``bind`` false, to connect to (tcp port 1-65535)."""
    # libzmq takes a tcp port modulo 65536, so 99999 would bind 34463 without a word.
    scheme, sep, address = value.partition("://")
    if not sep or not scheme or not address:
        raise ConfigError(f"{name}: expected an endpoint like tcp://127.0.0.1:5555 (got {value!r})")
    if scheme == "tcp":
        host, colon, port = address.rpartition(":")
        number = int(port) if port.isascii() and port.isdigit() else -1
        port_ok = (port == "*" or 0 <= number <= 65535) if bind else 0 < number <= 65535
        if not colon or not host or not port_ok:
            ports = ", the port 1-65535, or * or 0 (any free port)" if bind else " with a port 1-65535"
            raise ConfigError(f"{name}: expected tcp://HOST:PORT{ports} (got {value!r})")


def validate(cfg: Config) -> Config:
    """Check value ranges; raise ConfigError naming the first bad field."""
    if not cfg.audio.input:
        raise ConfigError("audio.input: must not be empty ('default' is the default microphone)")
    _check_range("audio.buffer_s", cfg.audio.buffer_s, 0.1, 60.0)
    _check_range("audio.block_ms", cfg.audio.block_ms, 1, 200)
    _check_range("audio.reopen_s", cfg.audio.reopen_s, 0.0, 3600.0)
    _check_range("audio.stdin_rate_hz", cfg.audio.stdin_rate_hz, *AUDIO_RATE_RANGE_HZ)
    _check_range("audio.stdin_channels", cfg.audio.stdin_channels, 1, 64)
    _check_choice("audio.stdin_format", cfg.audio.stdin_format, ("s16le", "f32le"))
    if cfg.audio.channel is not None:
        _check_range("audio.channel", cfg.audio.channel, 0, 63)
    _check_choice("vad.aggressiveness", cfg.vad.aggressiveness, (0, 1, 2, 3))
    _check_range("vad.hangover_ms", cfg.vad.hangover_ms, 0, 5000)
    _check_range("vad.release_ms", cfg.vad.release_ms, 1, 5000)
    _check_choice("model.lookahead_ms", cfg.model.lookahead_ms, (0, 10, 20, 30))
    _check_range("model.upstream_layer", cfg.model.upstream_layer, -1, 256)
    _check_range("model.upstream_chunk_ms", cfg.model.upstream_chunk_ms, 20, 2000)
    _check_range("model.upstream_context_ms", cfg.model.upstream_context_ms, 0, 10000)
    _check_choice("face.mood", cfg.face.mood, MOODS)
    for name in ("intensity", "blink", "gaze", "head", "breath"):
        _check_range(f"face.{name}", getattr(cfg.face, name), 0.0, 1.0)
    _check_range("face.mood_transition_s", cfg.face.mood_transition_s, 0.0, 60.0)
    _check_range("face.smoothing_ms", cfg.face.smoothing_ms, 0.0, 10.0)
    _check_range("face.calibrate_s", cfg.face.calibrate_s, 0.5, 60.0)
    if cfg.face.seed < 0:  # numpy's SeedSequence takes non-negative integers only
        raise ConfigError(f"face.seed: must be >= 0 (got {cfg.face.seed})")
    _check_choice("output.fps", cfg.output.fps, OUTPUT_FPS)
    if problem := subject_problem(cfg.output.subject):
        raise ConfigError(f"output.subject: {problem} (got {cfg.output.subject!r})")
    for i, ep in enumerate(cfg.publish.zmq):
        check_zmq_endpoint(f"publish.zmq[{i}]", ep)
    if cfg.publish.control_zmq is not None:
        check_zmq_endpoint("publish.control_zmq", cfg.publish.control_zmq)
    for key in ("osc", "vmc", "livelinkface"):
        for i, target in enumerate(getattr(cfg.publish, key)):
            _check_hostport(f"publish.{key}[{i}]", target)
    _check_choice("publish.vmc_names", cfg.publish.vmc_names, ("vrm0", "perfectsync", "both"))
    if cfg.publish.control_osc is not None:
        _check_range("publish.control_osc", cfg.publish.control_osc, 1, 65535)
    if not cfg.publish.control_bind.strip():  # an empty host binds every interface, without a word
        raise ConfigError("publish.control_bind: must not be empty (0.0.0.0 binds every interface, if that is meant)")
    _check_choice("log.level", cfg.log.level, ("debug", "info", "warning", "error"))
    _check_choice("log.format", cfg.log.format, ("text", "json"))
    _check_range("log.status_interval_s", cfg.log.status_interval_s, 0.05, 60.0)
    return cfg


def _coerce(name: str, tp: Any, value: Any) -> Any:
    """Convert a TOML/CLI value to the field's annotated type, or raise ConfigError naming the field."""
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _coerce(name, options[0], value)
    if origin is tuple:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{name}: expected a list of strings (got {value!r})")
        return tuple(_coerce(f"{name}[{i}]", str, v) for i, v in enumerate(value))
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{name}: expected true or false (got {value!r})")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ConfigError(f"{name}: expected an integer (got {value!r})")
        try:
            return int(value)
        except ValueError as e:
            raise ConfigError(f"{name}: expected an integer (got {value!r})") from e
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ConfigError(f"{name}: expected a number (got {value!r})")
        try:
            return float(value)
        except (ValueError, OverflowError) as e:  # OverflowError: an integer of hundreds of digits
            raise ConfigError(f"{name}: expected a number (got {str(value)[:40]!r})") from e
    if tp is str:
        if not isinstance(value, str | int):
            raise ConfigError(f"{name}: expected a string (got {value!r})")
        return str(value)
    raise ConfigError(f"{name}: unsupported type")


def _merge_section(section: Any, values: Mapping[str, Any], prefix: str) -> Any:
    hints = typing.get_type_hints(type(section))
    known = {f.name for f in fields(section)}
    changes: dict[str, Any] = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"{prefix}.{key}: unknown setting (known: {', '.join(sorted(known))})")
        changes[key] = _coerce(f"{prefix}.{key}", hints[key], value)
    return replace(section, **changes)


def merge(cfg: Config, data: Mapping[str, Any]) -> Config:
    """Apply a nested mapping {section: {key: value}} to a config, coercing and checking names."""
    sections = {f.name for f in fields(cfg)}
    changes: dict[str, Any] = {}
    for name, values in data.items():
        if name not in sections:
            raise ConfigError(f"{name}: unknown section (known: {', '.join(sorted(sections))})")
        if not isinstance(values, Mapping):
            raise ConfigError(f"{name}: expected a table of settings")
        changes[name] = _merge_section(getattr(cfg, name), values, name)
    return replace(cfg, **changes)


# Files a config may name for the bridge to read: (section, key, is it surely a path). The others may
# also be names (an input device, an s3prl upstream), so they are paths only where that file exists.
_READ_PATHS = (("model", "weights", True), ("model", "head", True), ("face", "profile", True),
               ("model", "upstream", False), ("audio", "input", False))  # fmt: skip


def _anchor_paths(data: dict[str, Any], folder: Path) -> dict[str, Any]:
    """The file's relative paths of files to read, made relative to the config file's folder: a studio's
    config names its rig profile and weights beside it, whatever folder the command runs in."""
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
    for section, key, surely in _READ_PATHS:
        value = out.get(section, {}).get(key) if isinstance(out.get(section), dict) else None
        if not isinstance(value, str) or value in ("", "default", "-", "none") or Path(value).is_absolute():
            continue
        if section == "face" and not value.endswith(".toml"):
            continue  # a shipped profile's name
        if section == "audio" and "/" not in value and not Path(value).suffix:
            continue  # a bare name is a device's (bridge.audio.sources.is_file_input)
        anchored = folder / Path(value).expanduser()
        if surely or anchored.exists():
            out[section][key] = str(anchored)
    return out


def load_config(path: Path | None, overrides: Mapping[str, Mapping[str, Any]]) -> Config:
    """Read a TOML file (optional), apply CLI overrides on top, validate. Relative paths in the file to
    files the bridge reads (weights, head, profile, upstream, input) are relative to the file's folder;
    those on the command line to the working directory.

    Raises:
        ConfigError: unreadable file, TOML syntax error, unknown field or invalid value.
    """
    cfg = Config()
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8-sig"))  # Notepad saves with a BOM
        except OSError as e:
            raise ConfigError(f"config file {path}: {e.strerror or e}") from e
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise ConfigError(f"config file {path}: {e}") from e
        except RecursionError as e:  # arrays or tables nested thousands deep
            raise ConfigError(f"config file {path}: nested too deeply to be a config") from e
        cfg = merge(cfg, _anchor_paths(data, path.parent))
    cfg = merge(cfg, overrides)
    return validate(cfg)


def as_dict(cfg: Config) -> dict[str, Any]:
    """The config as plain data (for status replies and logs)."""
    return dataclasses.asdict(cfg)
