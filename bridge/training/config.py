"""Training configurations: the one that produced the shipped weights, and a quick one for tests."""

from __future__ import annotations

from dataclasses import dataclass

from bridge.errors import ConfigError
from bridge.features.logmel import N_MELS


@dataclass(frozen=True, slots=True)
class TrainConfig:
    """Everything that determines the trained weights (with the code and the installed voices).

    Attributes:
        voices: espeak-ng MBROLA voices read the corpus.
        paragraphs_per_voice: synthesized paragraphs per voice (each at its own rate and pitch).
        extra_voices: further MBROLA voices (other languages), read after ``voices``; those with native
            sentences (``bridge.corpus.native``) read their own language, the others English.
        paragraphs_per_extra_voice: paragraphs per extra voice (fewer: English stays the bulk).
        flite_voices: flite voices (``bridge.corpus.flite``: statistical voices of real speakers)
            read the same kind of English text, after the MBROLA voices.
        paragraphs_per_flite_voice: paragraphs per flite voice.
        festival_voices: festival voices (``bridge.corpus.festival``: diphone voices of two more
            speakers and an HTS voice), read after the flite voices.
        paragraphs_per_festival_voice: paragraphs per festival voice.
        rhvoice_voices: RHVoice voices (``bridge.corpus.rhvoice``: statistical voices of real
            speakers, timed by forced alignment), read after the festival voices.
        paragraphs_per_rhvoice_voice: paragraphs per RHVoice voice.
        espeak_voices: espeak-ng formant voices with variants (``bridge.corpus.espeak``, e.g.
            ``en-us+m3``), read after the RHVoice voices.
        paragraphs_per_espeak_voice: paragraphs per espeak-ng voice.
        piper_voices: Piper neural (VITS) voices (``bridge.corpus.piper``: learned end to end from one
            real speaker's recordings), read after the espeak-ng voices.
        paragraphs_per_piper_voice: paragraphs per Piper voice.
        sentences_per_paragraph: generated sentences per paragraph.
        vtl_paragraphs: extra paragraphs rendered by VocalTractLab with its own articulatory
            trajectories as control targets (``bridge.corpus.vtl``, needs vocaltractlab-cython);
            their timing comes from the MBROLA voices in turn. 0 in FULL, so the full config still
            reproduces the shipped weights; 8 paragraphs add about 20 min (docs/model.md).
        vtl_sentences_per_paragraph: sentences per VocalTractLab paragraph (VTL renders about
            4-7x slower than real time on this machine, so its paragraphs are short).
        target_delay_ms: articulation targets (EMA, controls, visemes, voicing) are moved this much
            later against the audio (a multiple of 10 ms; the first row repeats). 0: as the phone
            table and its coarticulation model time them.
        pause_posture: pauses hold a speech-ready posture (lips and jaw slightly apart) for
            0.5 s before relaxing to the closed rest (``bridge.phonetics.dynamics``); off, every
            pause aims at the closed rest (models v0-v2).
        phone_features: the network also reads the 42 phone posteriors of pocketsphinx's US English
            acoustic model, trained on real speech (``bridge.features.phones``); its arrays go into
            the weights file, so training needs pocketsphinx and the runtime does not.
        envelope_coeffs: when above 0, the log-mel input keeps only its spectral envelope, the first
            ``envelope_coeffs`` of its 40 cepstral coefficients (``bridge.features.logmel.envelope_map``);
            the weights file records it and the runtime smooths the same way. 0: the plain log-mel.
        augment_copies: independently degraded copies of every paragraph.
        real_codecs: the augmentation's codec step also uses Opus and MP3 at low bit rates
            (``bridge.training.augment``), not only mu-law; off, its random draws are those of
            models v0-v5.
        direct_path_rooms: the augmentation's rooms have a direct-to-reverberant ratio of -5..+15 dB
            (microphones from laptop to headset distance); off, the far-field rooms of models v0-v5
            (-9 to -19 dB).
        music_noise: share of the augmentation's additive noise that is synthetic background music
            (``bridge.training.augment.synthetic_music``), heard under speech and alone in its pauses,
            where the targets are the resting mouth; 0 draws no extra random numbers.
        steps: optimizer steps.
        batch_size: crops per step.
        crop_frames: crop length in 10 ms frames.
        start_crop_fraction: share of crops that start at their paragraph's first frame (the
            stream start, which the network meets at run time with its zero state); the rest
            start anywhere. 0 draws no extra random numbers.
        warmup_frames: first frames of a crop left out of the loss (the GRU starts from zeros).
        conv_channels: width of the two causal conv layers.
        hidden: GRU state size.
        head_hidden: hidden width of each output head.
        closure_weight: extra weight of closed-lip frames (lip aperture target below 0.05) in the
            lip-aperture loss: such a frame counts ``1 + closure_weight`` times.
        learning_rate: peak AdamW learning rate (linear warm-up, cosine decay).
        seed: seeds text generation, augmentation, initialisation and batching.
        members: networks in the weights file; member i is trained from scratch with seed
            ``seed + i`` (its own texts, augmentation and initialisation) and the runtime averages
            their outputs.
    """

    voices: tuple[str, ...] = ("mb-us1", "mb-us2", "mb-us3", "mb-en1")
    paragraphs_per_voice: int = 10
    extra_voices: tuple[str, ...] = ()
    paragraphs_per_extra_voice: int = 0
    flite_voices: tuple[str, ...] = ()
    paragraphs_per_flite_voice: int = 0
    festival_voices: tuple[str, ...] = ()
    paragraphs_per_festival_voice: int = 0
    rhvoice_voices: tuple[str, ...] = ()
    paragraphs_per_rhvoice_voice: int = 0
    espeak_voices: tuple[str, ...] = ()
    paragraphs_per_espeak_voice: int = 0
    piper_voices: tuple[str, ...] = ()
    paragraphs_per_piper_voice: int = 0
    sentences_per_paragraph: int = 30
    vtl_paragraphs: int = 0
    vtl_sentences_per_paragraph: int = 6
    target_delay_ms: int = 0
    pause_posture: bool = True
    phone_features: bool = False
    envelope_coeffs: int = 0
    augment_copies: int = 2
    real_codecs: bool = False
    direct_path_rooms: bool = False
    music_noise: float = 0.0
    steps: int = 1500
    batch_size: int = 32
    crop_frames: int = 300
    start_crop_fraction: float = 0.0
    warmup_frames: int = 20
    conv_channels: int = 128
    hidden: int = 192
    head_hidden: int = 128
    closure_weight: float = 3.0
    learning_rate: float = 2e-3
    seed: int = 1
    members: int = 1

    def __post_init__(self) -> None:
        if self.target_delay_ms < 0 or self.target_delay_ms % 10:
            raise ConfigError(f"target_delay_ms must be a non-negative multiple of 10, not {self.target_delay_ms}")
        if self.members < 1:
            raise ConfigError(f"members must be at least 1, not {self.members}")
        if not 0.0 <= self.music_noise <= 1.0:
            raise ConfigError(f"music_noise must be within 0..1, not {self.music_noise}")
        if self.closure_weight < 0:
            raise ConfigError(f"closure_weight must not be negative, not {self.closure_weight}")
        if not 0 <= self.envelope_coeffs <= N_MELS:
            raise ConfigError(f"envelope_coeffs must be within 0..{N_MELS}, not {self.envelope_coeffs}")
        if not 0.0 <= self.start_crop_fraction <= 1.0:
            raise ConfigError(f"start_crop_fraction must be within 0..1, not {self.start_crop_fraction}")

    @property
    def all_voices(self) -> tuple[str, ...]:
        """Every voice in the order the corpus is synthesized."""
        return (
            self.voices + self.extra_voices + self.flite_voices + self.festival_voices + self.rhvoice_voices
            + self.espeak_voices + self.piper_voices
        )  # fmt: skip


# The other-language voices (extra_voices; on v1 and again on v4), the festival and RHVoice voices, a
# 20 ms target delay and stream-start crops were tried and scored worse on the dev clips
# (docs/model.md, docs/accuracy.md).
# The pause posture (on by default) made model v3; targets 10 ms later made v4; v5 is two v4 networks
# (seeds 1 and 2) averaged. Phone-posterior input features scored worse, and a Piper neural voice
# traded closure F1 for EMA and FACEGOOD r in two seed pairs (docs/accuracy.md). Opus/MP3 in the
# augmentation (real_codecs), alone and with direct-path rooms, did not make the model more robust
# to codecs or rooms in two seed pairs (docs/accuracy.md, bench/channel_robustness.py). Synthetic
# background music in the augmentation (music_noise=0.3) cost FACEGOOD r and barely quietened music.
FULL = TrainConfig(
    flite_voices=("fl-awb", "fl-rms", "fl-slt", "fl-kal16"),
    paragraphs_per_flite_voice=10,
    target_delay_ms=10,
    members=2,
)
QUICK = TrainConfig(
    voices=("mb-us1",),
    paragraphs_per_voice=2,
    flite_voices=("fl-slt",),
    paragraphs_per_flite_voice=1,
    sentences_per_paragraph=6,
    augment_copies=1,
    steps=40,
    batch_size=8,
    crop_frames=150,
    conv_channels=32,
    hidden=32,
    head_hidden=32,
)
