"""Dev-time training corpus: synthetic speech with exact phone timing.

Synthesizers: espeak-ng, MBROLA, flite, festival, RHVoice and Piper.

Never imported by the live path (run); ``avatar-bridge train`` uses it, and ``bake`` uses
``espeak.pronounce`` to guess the pronunciation of a transcript word the aligner's dictionary lacks.
"""

from __future__ import annotations

from collections.abc import Sequence

from bridge.corpus import festival, flite, mbrola, piper, rhvoice
from bridge.corpus.espeak import espeak_library_available
from bridge.errors import ModelError


def require_voices(voices: Sequence[str]) -> None:
    """Raise ModelError naming what is missing to synthesize with these voices.

    Args:
        voices: TrainConfig voice names: MBROLA ("mb-us1"), flite ("fl-"), festival ("fe-"),
            RHVoice ("rh-"), Piper ("pi-") and espeak-ng's own voices (anything else, e.g. "en-us+m3").
    """
    if not mbrola.espeak_available():
        raise ModelError("training needs espeak-ng and the MBROLA voices (scripts/setup.sh --dev)")
    missing = [v for v in voices if v in mbrola.VOICES and not mbrola.voice_available(v)]
    if missing:
        raise ModelError(f"training needs the MBROLA voices {', '.join(missing)} (scripts/setup.sh --dev)")
    wanted = [v for v in voices if v in flite.VOICES]
    if wanted and not flite.flite_available():
        raise ModelError(f"training needs flite for the voices {', '.join(wanted)} (scripts/setup.sh --dev)")
    absent = [v for v in voices if v in festival.VOICES and not festival.festival_available(v)]
    if absent:
        packages = ", ".join(festival.VOICES[v].package for v in absent)
        raise ModelError(f"training needs festival and {packages} for {', '.join(absent)} (scripts/setup.sh --dev)")
    absent = [v for v in voices if v in rhvoice.VOICES and not rhvoice.rhvoice_available(v)]
    if absent:
        raise ModelError(f"training needs rhvoice-english for {', '.join(absent)} (scripts/setup.sh --dev)")
    absent = [v for v in voices if v in piper.VOICES and not piper.piper_available(v)]
    if absent:
        packages = ", ".join(piper.VOICES[v] for v in absent)
        names = ", ".join(absent)
        raise ModelError(f"training needs onnx, onnxruntime and {packages} for {names} (scripts/setup.sh --dev)")
    own = [v for v in voices if not v.startswith(("mb-", "fl-", "fe-", "rh-", "pi-"))]
    if own and not espeak_library_available():
        raise ModelError(f"training needs libespeak-ng for the voices {', '.join(own)} (scripts/setup.sh --dev)")
