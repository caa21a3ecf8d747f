"""Import a file made by ``avatar-bridge bake`` as actions, with its audio as a sound strip."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import bpy

from .._vendor.avatar_wire import WireError, load_bake_jsonl
from ..core.timing import FrameConfig, pick_keys
from .props import AvatarBridgeSettings
from .rig import KeyBuffer, RigWriter, fresh_actions

log = logging.getLogger(__name__)

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")
MAX_FRAME = 1_048_574  # Blender's MAXFRAME: no key, scene end or strip goes past it


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an import made.

    Attributes:
        frames_read: lines in the bake file.
        keyed_frames: scene frames that got keys (one per scene frame the samples fall on).
        keys: keyframes inserted over all targets.
        first_frame, last_frame: the keyed range.
        actions: names of the new actions.
        sound_strip: name of the sound strip ("" when none was added).
        sound_note: why no sound strip was added ("" when one was).
        missing: rig targets the mapping could not drive.
    """

    frames_read: int
    keyed_frames: int
    keys: int
    first_frame: int
    last_frame: int
    actions: tuple[str, ...]
    sound_strip: str
    sound_note: str
    missing: tuple[str, ...]


def audio_beside(bake_path: Path) -> Path | None:
    """The audio a bake was made from, by name: ``x.jsonl`` -> ``x.wav`` (or ``x.wav.jsonl`` -> ``x.wav``)."""
    stem = bake_path.with_suffix("")
    candidates = [stem] if stem.suffix.lower() in AUDIO_SUFFIXES else []
    candidates += [stem.with_suffix(s) for s in AUDIO_SUFFIXES]
    return next((c for c in candidates if c.is_file()), None)


def import_bake(scene: bpy.types.Scene, bake_path: Path, audio_path: Path | None, start_frame: int) -> ImportResult:
    """Key the scene's targets from ``bake_path`` so stream time 0 is on ``start_frame``.

    The audio (when given) becomes a sound strip starting on the same frame, so the line plays
    in sync. Extends the scene's end frame when the take is longer.

    Raises:
        WireError: a malformed line in the bake file, no frames, or times past Blender's last frame
            (nothing in the scene changes then).
        OSError: the file cannot be read.
    """
    settings: AvatarBridgeSettings = scene.avatar_bridge
    frames = load_bake_jsonl(str(bake_path))
    if not frames:
        raise WireError(f"{bake_path.name} has no frames")
    cfg = FrameConfig(fps=scene.render.fps, fps_base=scene.render.fps_base, start_frame=float(start_frame))
    picks = pick_keys((f.t_s for f in frames), cfg)
    outside = [frames[picks[f]].t_s for f in (min(picks), max(picks)) if not -MAX_FRAME <= f <= MAX_FRAME]
    if outside:  # checked before anything changes, so a bad line leaves the rig and its actions alone
        raise WireError(f"{bake_path.name}: its time {outside[0]:g} s falls beyond Blender's frames")
    actions = fresh_actions(settings, bake_path.stem)
    writer = RigWriter()
    buffer = KeyBuffer()
    keys = 0
    for frame_number, index in picks.items():
        compiled = writer.write(settings, frames[index])
        if compiled is not None:
            keys += writer.key(settings, frame_number, buffer)
    buffer.write(settings)
    first, last = min(picks), max(picks)
    strip, note = "", ""
    if audio_path is None:
        note = "no audio found beside the bake"
    elif not bpy.app.build_options.audaspace:
        # The PyPI bpy module is built without audio; Blender itself always has it.
        note = "this Blender build has no audio support (Audaspace)"
        log.warning("sound strip not added: %s", note)
    else:
        strip = add_sound_strip(scene, audio_path, start_frame)
    if last > scene.frame_end:
        scene.frame_end = last
    log.info("imported %s: %d frames, %d keys on %d..%d", bake_path.name, len(frames), keys, first, last)
    return ImportResult(
        frames_read=len(frames),
        keyed_frames=len(picks),
        keys=keys,
        first_frame=first,
        last_frame=last,
        actions=tuple(actions),
        sound_strip=strip,
        sound_note=note,
        missing=writer.missing,
    )


def add_sound_strip(scene: bpy.types.Scene, audio_path: Path, start_frame: int) -> str:
    """Add ``audio_path`` to the sequencer on the first free channel at ``start_frame``."""
    editor = scene.sequence_editor or scene.sequence_editor_create()
    # Blender 5.0 renamed SequenceEditor.sequences to .strips.
    strips = editor.strips if hasattr(editor, "strips") else editor.sequences
    used = {s.channel for s in strips}
    channel = next((c for c in range(1, 129) if c not in used), 128)
    strip = strips.new_sound(audio_path.stem, str(audio_path), channel, start_frame)
    return str(strip.name)
