"""Command line: argparse subcommands; the one place that catches broadly and maps errors to exit codes."""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from bridge import __version__
from bridge.audio.capture import device_left_hanging
from bridge.config import OUTPUT_FPS, Config, load_config
from bridge.errors import BridgeError, ConfigError
from bridge.evaluation import add_evaluate_args
from bridge.frames import MOODS
from bridge.logs import flush_logging, restore_stderr, setup_logging
from bridge.offline.cli_args import add_bake_args, add_preview_args
from bridge.training.command import add_train_args
from bridge.training.head import add_train_head_args

log = logging.getLogger(__name__)
_MAX_DURATION_S = 1e8  # three years


def add_config_args(p: argparse.ArgumentParser) -> None:
    """Flags shared by every command that runs the face pipeline (run, bake, preview)."""
    p.add_argument("--config", type=Path, help="TOML config file; command-line flags override it")
    p.add_argument("--fps", type=int, choices=OUTPUT_FPS, help="output frame rate (default 60)")
    p.add_argument("--subject", help="subject name receivers of `run` display (default 'avatar'; in no bake output)")
    p.add_argument("--mood", choices=MOODS, help="starting mood")
    p.add_argument("--intensity", type=float, help="mood intensity 0..1 (default 1)")
    # Switches come as --x/--no-x (BooleanOptionalAction): either way overrides a config file for one run.
    p.add_argument("--auto-mood", action=argparse.BooleanOptionalAction,
                   help="scale expression with prosody (default off)")
    p.add_argument("--profile", help="rig profile whose channels are added as 'rig' to ZeroMQ face messages and "
                   "bake JSONL lines: arkit, vrm0, vrm1, facegood or a TOML file (default none: no rig channels)")
    p.add_argument("--seed", type=int, help="seed of blinks, gaze, head motion and breathing (default 0)")
    for part in ("blink", "gaze", "head", "breath"):
        g = p.add_mutually_exclusive_group()
        # A strength flag, not only --no-x: a config file that turned a motion off or down can be overridden.
        g.add_argument(f"--{part}-strength", type=float, metavar="S", help=f"{part} motion strength 0..1 (default 1)")
        g.add_argument(f"--no-{part}", action="store_true", help=f"switch {part} motion off (--{part}-strength 0)")
    p.add_argument("--lookahead-ms", type=int, choices=(0, 10, 20, 30), help="model look-ahead (default 30)")
    p.add_argument("--weights", help="model weights file made by `avatar-bridge train` (default: shipped)")
    p.add_argument("--upstream", help="SSL encoder instead of the shipped model: a local WavLM/HuBERT model "
                   "directory or an s3prl name in the local Hugging Face cache (needs the [ssl] extra)")
    p.add_argument("--head", help="linear EMA head for --upstream: a wav2avatar .pkl or an .npz")
    p.add_argument("--upstream-layer", type=int, help="hidden state the head reads (default: from the head)")
    p.add_argument("--upstream-chunk-ms", type=int, help="audio per encoder run (default 200)")
    p.add_argument("--upstream-context-ms", type=int, help="audio before each chunk the encoder sees (default 200)")
    p.add_argument("--vad-aggressiveness", type=int, choices=(0, 1, 2, 3), help="webrtcvad mode (default 2)")
    p.add_argument("--vad", action=argparse.BooleanOptionalAction, help="rest the face in silence (default on)")
    p.add_argument("--require-voicing", action=argparse.BooleanOptionalAction, help="move the face for voiced "
                   "speech only: keyboard clicks stay still, and so do whispers and a breath before speech "
                   "(default off)")


def add_publisher_args(p: argparse.ArgumentParser, *, control: bool) -> None:
    """Publisher flags shared by run and replay (each target flag is repeatable), and with ``control``
    the control channels, which only run has."""
    g = p.add_argument_group("publishers")
    zmq = g.add_mutually_exclusive_group()  # --no-zmq silently dropped the endpoints given with it
    zmq.add_argument("--zmq", action="append", metavar="ENDPOINT", help="ZeroMQ PUB endpoint to bind "
                     "(default tcp://127.0.0.1:5555)")
    zmq.add_argument("--no-zmq", action="store_true", help="no ZeroMQ publisher")
    g.add_argument("--osc", action="append", metavar="HOST:PORT", help="the bridge's OSC address space")
    g.add_argument("--vmc", action="append", metavar="HOST:PORT", help="VMC protocol (VSeeFace 39539)")
    g.add_argument("--livelinkface", action="append", metavar="HOST:PORT", help="Live Link Face (Unreal 11111)")
    g.add_argument("--no-osc-bundle", action="store_true", help="send OSC messages unbundled")
    g.add_argument("--no-vmc-bundle", action="store_true", help="send VMC messages unbundled")
    g.add_argument("--vmc-names", choices=("vrm0", "perfectsync", "both"), help="VMC blendshape names")
    if control:
        g.add_argument("--control-osc", type=int, metavar="PORT", help="OSC control channel port")
        g.add_argument("--control-zmq", metavar="ENDPOINT", help="ZeroMQ REP control endpoint")
    g.add_argument("--record", metavar="FILE", help="record every published frame with its timing")


def _set(d: dict[str, dict[str, Any]], section: str, key: str, value: Any) -> None:
    if value is not None and value is not False:
        d.setdefault(section, {})[key] = value


def overrides_from_args(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """CLI flags as config overrides {section: {key: value}}; absent flags leave the file's values."""
    o: dict[str, dict[str, Any]] = {}
    a = vars(args)
    _set(o, "output", "fps", a.get("fps"))
    _set(o, "output", "subject", a.get("subject"))
    _set(o, "face", "mood", a.get("mood"))
    _set(o, "face", "intensity", a.get("intensity"))
    if a.get("auto_mood") is not None:
        o.setdefault("face", {})["auto_mood"] = a["auto_mood"]
    _set(o, "face", "profile", a.get("profile"))
    _set(o, "face", "seed", a.get("seed"))
    for part in ("blink", "gaze", "head", "breath"):
        if a.get(f"no_{part}"):
            o.setdefault("face", {})[part] = 0.0
        elif a.get(f"{part}_strength") is not None:
            o.setdefault("face", {})[part] = a[f"{part}_strength"]
    _set(o, "model", "lookahead_ms", a.get("lookahead_ms"))
    for key in ("upstream", "head", "upstream_layer", "upstream_chunk_ms", "upstream_context_ms"):
        _set(o, "model", key, a.get(key))
    _set(o, "model", "weights", a.get("weights"))
    _set(o, "vad", "aggressiveness", a.get("vad_aggressiveness"))
    if a.get("vad") is not None:
        o.setdefault("vad", {})["enabled"] = a["vad"]
    if a.get("require_voicing") is not None:
        o.setdefault("vad", {})["require_voicing"] = a["require_voicing"]
    for key in ("input", "channel", "stdin_rate_hz", "stdin_channels", "stdin_format", "reopen_s"):
        _set(o, "audio", key, a.get(key))
    if a.get("fast"):
        o.setdefault("audio", {})["fast"] = True
    zmq = a.get("zmq")
    if a.get("no_zmq"):
        o.setdefault("publish", {})["zmq"] = []
    elif zmq:
        o.setdefault("publish", {})["zmq"] = zmq
    for key in ("osc", "vmc", "livelinkface"):
        _set(o, "publish", key, a.get(key))
    if a.get("no_osc_bundle"):
        o.setdefault("publish", {})["osc_bundle"] = False
    if a.get("no_vmc_bundle"):
        o.setdefault("publish", {})["vmc_bundle"] = False
    _set(o, "publish", "vmc_names", a.get("vmc_names"))
    _set(o, "publish", "control_osc", a.get("control_osc"))
    _set(o, "publish", "control_zmq", a.get("control_zmq"))
    _set(o, "publish", "record", a.get("record"))
    if a.get("no_status"):
        o.setdefault("log", {})["status"] = False
    _set(o, "log", "level", a.get("log_level"))
    _set(o, "log", "format", a.get("log_format"))
    return o


def config_from_args(args: argparse.Namespace) -> Config:
    cfg = load_config(getattr(args, "config", None), overrides_from_args(args))
    # The config file's [log] takes over from here (--log-level/--log-format, already in cfg, win).
    setup_logging(cfg.log.level, cfg.log.format)
    return cfg


def _cmd_devices(args: argparse.Namespace) -> int:
    from bridge.audio.capture import list_input_devices

    devices = list_input_devices()
    if not devices:
        log.warning("no audio input devices found")
    for index, name, channels, rate_hz in devices:
        sys.stdout.write(f"{index:3d}  {name}  ({channels} ch, {rate_hz:.0f} Hz)\n")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from bridge.app import run_live
    from bridge.upstream import build_model

    if args.duration is not None and not 0 < args.duration <= _MAX_DURATION_S:  # a timer's wait overflows past it
        raise ConfigError(f"--duration: must be a positive number of seconds up to {_MAX_DURATION_S:.0e} "
                          f"(got {args.duration!r})")  # fmt: skip
    return run_live(config_from_args(args), build_model, duration_s=args.duration)


def _cmd_replay(args: argparse.Namespace) -> int:
    from bridge.transports.replay import run_replay

    if not 0.01 <= args.speed <= 1000:  # 1e-300 overflowed the replay clock
        raise ConfigError(f"--speed: must be between 0.01 and 1000 (got {args.speed!r})")
    return run_replay(config_from_args(args), args.file, speed=args.speed, loop=args.loop)


def _cmd_bake(args: argparse.Namespace) -> int:
    from bridge.offline.batch import run_bake
    from bridge.offline.cli_args import bake_request

    return run_bake(bake_request(args, config_from_args(args)))


def _cmd_preview(args: argparse.Namespace) -> int:
    from bridge.offline.cli_args import preview_request
    from bridge.offline.preview import run_preview

    return run_preview(preview_request(args, config_from_args(args)))


def _cmd_train(args: argparse.Namespace) -> int:
    from bridge.training.command import run_train

    return run_train(args)


def _cmd_train_head(args: argparse.Namespace) -> int:
    from bridge.training.head import run_train_head

    return run_train_head(args)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from bridge.evaluation import run_evaluate

    return run_evaluate(args)


def _cmd_calibrate(args: argparse.Namespace) -> int:
    """Ask a running bridge (its ZeroMQ control endpoint) to re-estimate the speaker's neutral."""
    import zmq

    from bridge.config import check_zmq_endpoint
    from bridge.errors import TransportError
    from bridge.transports.encoding import decode_control_zmq_reply, encode_control_zmq_request
    from bridge.transports.messages import Calibrate
    from bridge.transports.zeromq import check_connect_host

    check_zmq_endpoint("--control-zmq", args.control_zmq, bind=False)  # libzmq would take port 99999 as 34463
    check_connect_host(args.control_zmq, "--control-zmq")
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()
    sock = ctx.socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.IPV6, 1)
    try:
        sock.connect(args.control_zmq)
        sock.send(encode_control_zmq_request(Calibrate()))
        if not sock.poll(round(args.timeout_s * 1000)):
            raise TransportError(f"no reply from a bridge at {args.control_zmq} within {args.timeout_s:g} s "
                                 "(is it running with --control-zmq?)")
        reply = decode_control_zmq_reply(sock.recv())
    except zmq.ZMQError as e:
        raise TransportError(f"control endpoint {args.control_zmq}: {e}") from e
    finally:
        sock.close()
    if not reply.ok:
        # repr: the text comes from the network, and raw control characters would reach the terminal
        raise TransportError(f"the bridge refused to calibrate: {(reply.error or '')[:200]!r}")
    log.info("calibrating: the bridge re-estimates the neutral from the next seconds of speech")
    return 0


MAX_TIMEOUT_S = 3600.0


def _timeout_s(text: str) -> float:
    """argparse type: a finite number of seconds, more than 0 and at most an hour (zmq's poll
    takes int milliseconds, and a negative one waits forever)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value <= MAX_TIMEOUT_S:
        raise argparse.ArgumentTypeError(f"must be more than 0 and at most {MAX_TIMEOUT_S:g} s (got {text!r})")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="avatar-bridge", description="Speech to facial animation in real time, over ZeroMQ, OSC, VMC "
        "and Live Link Face."
    )
    parser.add_argument("--version", action="version", version=f"avatar-bridge {__version__}")
    _add_log_args(parser, None)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("run", help="stream from a microphone, a file or stdin and publish frames")
    p.add_argument("--input", "-i", default=None,
                   help="'default' microphone, a device name or index, an audio file (WAV, FLAC, OGG/Opus, MP3, "
                   "AIFF, CAF; M4A/AAC, WMA and videos through ffmpeg), or '-' for raw PCM on stdin")
    p.add_argument("--fast", action="store_true", help="play a file as fast as possible, not in real time")
    p.add_argument("--channel", type=int, help="use this input channel (0-based) instead of a downmix")
    p.add_argument("--reopen-s", type=float, help="a microphone that stops delivering (sound server restarting, "
                   "device unplugged) is tried again for this long, with silence streamed meanwhile; 0 ends "
                   "the run at once (default 30)")
    p.add_argument("--stdin-rate-hz", type=int, help="sample rate of raw PCM on stdin (default 16000)")
    p.add_argument("--stdin-channels", type=int, help="channels of raw PCM on stdin (default 1)")
    p.add_argument("--stdin-format", choices=("s16le", "f32le"), help="sample format on stdin (default s16le)")
    p.add_argument("--duration", type=float, help="stop after this many seconds")
    p.add_argument("--no-status", action="store_true", help="no live status line")
    add_config_args(p)
    add_publisher_args(p, control=True)
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("replay", help="re-publish a recording (--record) with its original timing")
    p.add_argument("file", type=Path, help="recording made with --record")
    p.add_argument("--speed", type=float, default=1.0, help="playback speed factor (default 1)")
    p.add_argument("--loop", action="store_true", help="start again at the end until interrupted")
    p.add_argument("--config", type=Path, help="TOML config file; command-line flags override it")
    add_publisher_args(p, control=False)
    p.set_defaults(func=_cmd_replay)

    p = sub.add_parser("bake", help="bake audio files or folders to animation files (JSON Lines, Live Link Face "
                       "CSV, Rhubarb, Oculus visemes, BVH)")
    add_bake_args(p)
    add_config_args(p)
    p.set_defaults(func=_cmd_bake)

    p = sub.add_parser("preview", help="render the animated face of an audio file to an MP4 (and a curve plot)")
    add_preview_args(p)
    add_config_args(p)
    p.set_defaults(func=_cmd_preview)

    p = sub.add_parser("calibrate", help="make a running bridge re-estimate the speaker's rest pose now")
    p.add_argument("--control-zmq", default="tcp://127.0.0.1:5556",
                   help="the bridge's --control-zmq endpoint (default tcp://127.0.0.1:5556)")
    p.add_argument("--timeout-s", type=_timeout_s, default=3.0, help="how long to wait for the reply (default 3)")
    p.set_defaults(func=_cmd_calibrate)

    p = sub.add_parser("devices", help="list audio input devices")
    p.set_defaults(func=_cmd_devices)

    p = sub.add_parser("train", help="train the articulation model from scratch (synthetic corpus, deterministic)")
    add_train_args(p)
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("train-head", help="fit a linear EMA head for an SSL upstream (--upstream) on the synthetic "
                       "corpus")
    add_train_head_args(p)
    p.set_defaults(func=_cmd_train_head)

    p = sub.add_parser("evaluate", help="accuracy of the model and two baselines on the dev recordings")
    add_evaluate_args(p)
    p.set_defaults(func=_cmd_evaluate)
    for command in sub.choices.values():
        # Also after the command; there, an absent flag must not reset one given before it.
        _add_log_args(command, argparse.SUPPRESS)
    return parser


def _add_log_args(p: argparse.ArgumentParser, default: str | None) -> None:
    p.add_argument("--log-level", choices=("debug", "info", "warning", "error"), default=default,
                   help="default: [log] level of --config, else info")
    p.add_argument("--log-format", choices=("text", "json"), default=default,
                   help="json: one machine-readable event per line on stderr (default: [log] format of "
                   "--config, else text)")


def _json_logs_requested(argv: Sequence[str]) -> bool:
    """Whether the command line asks for JSON logs, read before parsing it."""
    pairs = zip(argv, argv[1:], strict=False)  # each argument with the next; the last has none
    return "--log-format=json" in argv or any(a == "--log-format" and b == "json" for a, b in pairs)


def _parse_logging_usage_errors(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.Namespace:
    """parse_args, with a usage error logged as the one error event every other failure gives (JSON
    logs), not argparse's lines on stderr (which came through as warnings of native stderr)."""
    said = io.StringIO()
    try:
        with contextlib.redirect_stderr(said):
            return parser.parse_args(argv)
    except SystemExit as e:
        text = said.getvalue().strip()
        if e.code == 2 and text:
            usage, _, error = text.rpartition("\n")
            log.error("%s", error, extra={"event": "error", "kind": "UsageError", "usage": usage})
            flush_logging()
        elif text:
            sys.stderr.write(text + "\n")
        raise


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    if _json_logs_requested(argv):
        setup_logging("info", "json")
        args = _parse_logging_usage_errors(parser, argv)
    else:
        args = parser.parse_args(argv)
    setup_logging(args.log_level or "info", args.log_format or "text")  # until a config file says otherwise

    def _terminate(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    try:
        code = _run_command(args)
    finally:
        flush_logging()
    if device_left_hanging():
        restore_stderr()  # os._exit skips the exit handler that logs what PortAudio printed
        flush_logging()
        os._exit(code)  # PortAudio's exit handler would wait on the silent sound server as well
    return code


def _run_command(args: argparse.Namespace) -> int:
    """Run the chosen command; every error becomes one log line and an exit code."""
    try:
        code: int = args.func(args)
        return code
    except BridgeError as e:
        log.error("%s", e, extra={"event": "error", "kind": type(e).__name__})
        return e.exit_code
    except KeyboardInterrupt:
        log.info("interrupted", extra={"event": "stopped"})
        return 130
    except Exception as e:  # the one broad catch: an unexpected failure still ends in one clear line
        log.debug("unexpected error", exc_info=True)
        log.error("internal error: %s: %s (rerun with --log-level debug for details)", type(e).__name__, e,
                  extra={"event": "error", "kind": "internal"})
        return 1
