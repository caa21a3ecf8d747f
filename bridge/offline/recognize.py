"""Phone recognition with pocketsphinx: a teacher trained on real speech for bakes without a transcript.

pocketsphinx's phone-loop decoder ("allphone" with the en-us phonetic language model, both in the
pip wheel) with the settings pocketsphinx documents for phoneme recognition: language weight 2,
beams 1e-20. Its phones go through the same phone table and coarticulation as transcript phones and
are blended with the acoustic model (docs/offline.md has the measurement). Offline only: the
decoder's phone hypotheses settle only after the utterance has been heard.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from bridge.errors import ConfigError
from bridge.frames import F32
from bridge.offline.align import ALIGN_RATE_HZ, NOISE_PHONES, forget_audio, to_pcm16
from bridge.offline.take import Phone

if TYPE_CHECKING:
    import pocketsphinx

log = logging.getLogger(__name__)

_FRAME_S = 0.01


@functools.lru_cache(maxsize=1)
def _decoder() -> pocketsphinx.Decoder:
    """One phone-loop decoder per process."""
    try:
        import pocketsphinx
    except ImportError as e:
        raise ConfigError("--recognize needs pocketsphinx: pip install 'avatar-bridge[offline]'") from e
    phone_lm = Path(pocketsphinx.get_model_path()) / "en-us" / "en-us-phone.lm.bin"
    return pocketsphinx.Decoder(
        samprate=ALIGN_RATE_HZ,
        allphone=str(phone_lm),
        lw=2.0,
        beam=1e-20,
        pbeam=1e-20,
        bestpath=False,
        loglevel="FATAL",
    )


def recognize_phones(samples: F32, sample_rate_hz: int) -> tuple[Phone, ...]:
    """Timed ARPAbet phones heard in mono ``samples``; pauses and noises as "SIL" (empty if none)."""
    decoder = _decoder()
    forget_audio(decoder)  # the phones must not depend on the files decoded before
    decoder.start_utt()
    decoder.process_raw(to_pcm16(samples, sample_rate_hz), full_utt=True)
    decoder.end_utt()
    phones = tuple(
        Phone(
            "SIL" if seg.word.upper() in NOISE_PHONES else seg.word.upper(),
            seg.start_frame * _FRAME_S,
            (seg.end_frame + 1) * _FRAME_S,
        )
        for seg in decoder.seg() or ()  # None when the utterance is too short to decode (20 ms or less)
    )
    log.debug("recognized %d phones", len(phones))
    return phones if any(p.name != "SIL" for p in phones) else ()
