"""Dev-time training corpus: synthetic speech with exact phone timing (espeak-ng, MBROLA, flite).

Never imported by the live path (run/bake); ``avatar-bridge train`` uses it.
"""

from __future__ import annotations

from collections.abc import Sequence

from bridge.corpus.espeak import espeak_library_available
from bridge.corpus.flite import flite_available
from bridge.corpus.mbrola import espeak_available, voice_available
from bridge.errors import ModelError


def require_voices(mbrola_voices: Sequence[str], flite_voices: Sequence[str], espeak_voices: Sequence[str]) -> None:
    """Raise ModelError naming what is missing to synthesize with these voices."""
    if not espeak_available():
        raise ModelError("training needs espeak-ng and the MBROLA voices (scripts/setup.sh --dev)")
    missing = [v for v in mbrola_voices if not voice_available(v)]
    if missing:
        raise ModelError(f"training needs the MBROLA voices {', '.join(missing)} (scripts/setup.sh --dev)")
    if flite_voices and not flite_available():
        raise ModelError(f"training needs flite for the voices {', '.join(flite_voices)} (scripts/setup.sh --dev)")
    if espeak_voices and not espeak_library_available():
        names = ", ".join(espeak_voices)
        raise ModelError(f"training needs libespeak-ng for the voices {names} (scripts/setup.sh --dev)")
