"""Training arrays: synthesized corpus -> augmented audio -> normalised features and frame targets."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from bridge.corpus.espeak import synthesize_espeak
from bridge.corpus.festival import synthesize_festival
from bridge.corpus.flite import synthesize_flite
from bridge.corpus.mbrola import Utterance, synthesize
from bridge.corpus.native import SENTENCES, make_native_sentences
from bridge.corpus.piper import synthesize_piper
from bridge.corpus.rhvoice import synthesize_rhvoice
from bridge.corpus.texts import load_words, make_sentences
from bridge.corpus.vtl import VtlUtterance, synthesize_vtl
from bridge.features.logmel import HOP, SAMPLE_RATE_HZ, StreamingLogMel, raw_log_mel
from bridge.features.phones import StreamingPhonePosteriors, raw_log_filterbank
from bridge.phonetics import controls_to_ema, phones_to_model_output
from bridge.training.augment import augment
from bridge.training.config import TrainConfig
from bridge.training.net import EMA_SCALE_MM
from bridge.training.sphinx_am import load_phone_model

log = logging.getLogger(__name__)
F32 = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class TrainingData:
    """Per-utterance feature and target matrices (100 Hz rows) and the normaliser prior.

    Attributes:
        features: list of (T_i, N_MELS) normalised log-mel, followed by the 42 phone posterior
            features when the config asks for them.
        targets: list of (T_i, 35): EMA / EMA_SCALE_MM, controls, visemes, voicing.
        prior_mean: per-band mean of the raw (augmented) log-mel.
        prior_var: per-band variance of the raw log-mel.
        phone_arrays: the phone model's arrays and its normaliser prior (``am_prior_mean``) for the
            weights file; empty without phone features.
    """

    features: list[F32]
    targets: list[F32]
    prior_mean: npt.NDArray[np.float64]
    prior_var: npt.NDArray[np.float64]
    phone_arrays: dict[str, npt.NDArray[np.generic]] = field(default_factory=dict)


def synthesize_corpus(cfg: TrainConfig) -> list[Utterance]:
    """Paragraphs of generated sentences read by every configured voice at random rate and pitch."""
    words = load_words()
    voices = cfg.all_voices
    counts = [cfg.paragraphs_per_voice] * len(cfg.voices) + [cfg.paragraphs_per_extra_voice] * len(cfg.extra_voices)
    counts += [cfg.paragraphs_per_flite_voice] * len(cfg.flite_voices)
    counts += [cfg.paragraphs_per_festival_voice] * len(cfg.festival_voices)
    counts += [cfg.paragraphs_per_rhvoice_voice] * len(cfg.rhvoice_voices)
    counts += [cfg.paragraphs_per_espeak_voice] * len(cfg.espeak_voices)
    counts += [cfg.paragraphs_per_piper_voice] * len(cfg.piper_voices)
    # The synthesizers that take a duration stretch and a pitch factor.
    timed: dict[str, Callable[..., Utterance]] = dict.fromkeys(cfg.flite_voices, synthesize_flite)
    timed.update(dict.fromkeys(cfg.festival_voices, synthesize_festival))
    timed.update(dict.fromkeys(cfg.rhvoice_voices, synthesize_rhvoice))
    out = []
    for vi, (voice, n_paragraphs) in enumerate(zip(voices, counts, strict=True)):
        for p in range(n_paragraphs):
            seed = cfg.seed * 100_003 + vi * 1009 + p
            rng = random.Random(seed)
            if voice in SENTENCES:
                text = " ".join(make_native_sentences(cfg.sentences_per_paragraph, seed, voice))
            else:
                text = " ".join(make_sentences(cfg.sentences_per_paragraph, seed, words))
            if voice in cfg.piper_voices:
                # The flite voices' spread of rate; a VITS voice has no pitch control.
                out.append(synthesize_piper(text, voice, length_scale=rng.uniform(0.73, 1.46), seed=seed))
            elif voice in timed:
                # About the spread of rate and pitch that 120-240 wpm and pitch 15-85 give espeak-ng.
                stretch, f0 = rng.uniform(0.73, 1.46), rng.uniform(0.8, 1.3)
                out.append(timed[voice](text, voice, duration_stretch=stretch, f0_shift=f0))
            else:
                synth = synthesize_espeak if voice in cfg.espeak_voices else synthesize
                out.append(synth(text, voice, speed_wpm=rng.randint(120, 240), pitch=rng.randint(15, 85)))
    log.info("corpus: %d paragraphs, %.1f min", len(out), sum(u.samples.size for u in out) / 16000 / 60)
    return out


def synthesize_vtl_corpus(cfg: TrainConfig) -> list[VtlUtterance]:
    """Short paragraphs timed by the MBROLA voices in turn and rendered by VocalTractLab."""
    if cfg.vtl_paragraphs == 0:
        return []
    words = load_words()
    out = []
    for p in range(cfg.vtl_paragraphs):
        # Seeds apart from the MBROLA paragraphs' (those stay below 100_003 * seed + 50_000).
        seed = cfg.seed * 100_003 + 50_000 + p
        rng = random.Random(seed)
        text = " ".join(make_sentences(cfg.vtl_sentences_per_paragraph, seed, words))
        voice = cfg.voices[p % len(cfg.voices)]
        timing = synthesize(text, voice, speed_wpm=rng.randint(120, 240), pitch=rng.randint(15, 85))
        out.append(synthesize_vtl(timing.phones, f0_shift_st=rng.uniform(-3.0, 9.0)))
    minutes = sum(v.utterance.samples.size for v in out) / 16000 / 60
    log.info("VocalTractLab corpus: %d paragraphs, %.1f min", len(out), minutes)
    return out


def insert_pauses(utt: Utterance, rng: np.random.Generator) -> Utterance:
    """Lengthen some pauses to 0.4-2 s and add 0.3-2.5 s of silence before and after.

    MBROLA paragraphs only have short sentence pauses; real takes start and end with seconds of
    silence and the running feature normaliser must learn to see them as silence.
    """
    x = utt.samples
    sr = utt.sample_rate_hz
    pieces: list[F32] = [np.zeros(int(rng.uniform(0.3, 2.5) * sr), dtype=np.float32)]
    phones: list[tuple[str, float, float]] = []
    shift_s = pieces[0].size / sr
    cursor = 0
    for name, start_s, end_s in utt.phones:
        if name == "SIL" and end_s - start_s > 0.15 and rng.random() < 0.3:
            mid = int(0.5 * (start_s + end_s) * sr)
            gap = np.zeros(int(rng.uniform(0.4, 2.0) * sr), dtype=np.float32)
            pieces += [x[cursor:mid], gap]
            cursor = mid
            phones.append((name, start_s + shift_s, end_s + shift_s + gap.size / sr))
            shift_s += gap.size / sr
        else:
            phones.append((name, start_s + shift_s, end_s + shift_s))
    pieces += [x[cursor:], np.zeros(int(rng.uniform(0.3, 2.5) * sr), dtype=np.float32)]
    return Utterance(np.concatenate(pieces), sr, phones, utt.voice)


def vtl_frame_controls(vtl: VtlUtterance, paused: Utterance) -> F32:
    """VocalTractLab's controls at the 100 Hz frames of ``insert_pauses(vtl.utterance)``.

    Each frame time is mapped back to the rendered audio's timeline (phones keep their order and
    names; a lengthened pause was split at its middle) and the articulation there is taken, so an
    inserted silence holds the posture VocalTractLab had at that point of the pause.
    """
    new_t: list[float] = []
    old_t: list[float] = []
    for (_, a, b), (_, a2, b2) in zip(vtl.utterance.phones, paused.phones, strict=True):
        gap_s = (b2 - a2) - (b - a)
        if gap_s > 1e-6:
            mid = 0.5 * (a + b)
            new_t += [a2, a2 + mid - a, a2 + mid - a + gap_s, b2]
            old_t += [a, mid, mid, b]
        else:
            new_t += [a2, b2]
            old_t += [a, b]
    times = (np.arange(paused.samples.size // HOP) + 0.5) * HOP / paused.sample_rate_hz
    return vtl.controls_at(np.interp(times, new_t, old_t))


def frame_targets(utt: Utterance, controls: F32 | None = None, pause_posture: bool = True) -> F32:
    """(T, 35) targets for an utterance's 100 Hz frames.

    Args:
        utt: audio and timed phones (visemes and voicing always come from the phones).
        controls: (T, 7) measured controls (VocalTractLab) replacing the phone table's; EMA
            then follows from them through ``controls_to_ema``.
        pause_posture: pauses hold the speech-ready posture (``phones_to_model_output``).
    """
    n = utt.samples.size // HOP
    o = phones_to_model_output(utt.phones, n_frames=n, pause_posture=pause_posture)
    ctrl = o.controls if controls is None else controls
    ema = o.ema if controls is None else controls_to_ema(controls)
    cols = [ema / EMA_SCALE_MM, ctrl, o.visemes, o.voicing[:, None]]
    out: F32 = np.concatenate(cols, axis=1).astype(np.float32)
    return out


def delay_rows(rows: F32, frames: int) -> F32:
    """``rows`` moved ``frames`` later in time, the first row repeated in front; same length."""
    if frames == 0:
        return rows
    out: F32 = np.concatenate([np.repeat(rows[:1], frames, axis=0), rows[:-frames]])
    return out


def build(cfg: TrainConfig) -> TrainingData:
    """Synthesize, augment ``cfg.augment_copies`` times with random VTLN warps, and featurize."""
    utts = synthesize_corpus(cfg)
    vtls = synthesize_vtl_corpus(cfg)
    rng = np.random.default_rng(cfg.seed)
    babble = np.concatenate([u.samples for u in utts[: max(1, len(utts) // 4)]])
    raws: list[npt.NDArray[np.float64]] = []
    raw_banks: list[npt.NDArray[np.float64]] = []
    targets: list[F32] = []
    items: list[tuple[Utterance, VtlUtterance | None]] = [(u, None) for u in utts] + [(v.utterance, v) for v in vtls]
    for clean, vtl in items:
        utt = insert_pauses(clean, rng)
        tgt = frame_targets(utt, None if vtl is None else vtl_frame_controls(vtl, utt), cfg.pause_posture)
        tgt = delay_rows(tgt, cfg.target_delay_ms * SAMPLE_RATE_HZ // 1000 // HOP)
        for _ in range(cfg.augment_copies):
            warp = float(rng.uniform(0.84, 1.2))
            audio = augment(utt.samples, rng, babble, cfg.real_codecs, cfg.direct_path_rooms, cfg.music_noise)
            raws.append(raw_log_mel(audio, warp, cfg.envelope_coeffs))
            if cfg.phone_features:
                raw_banks.append(raw_log_filterbank(audio, warp))
            targets.append(tgt)
    stacked = np.concatenate(raws)
    prior_mean = stacked.mean(axis=0)
    prior_var = stacked.var(axis=0)
    feats = [StreamingLogMel(prior_mean, prior_var).normalise(r) for r in raws]
    phone_arrays: dict[str, npt.NDArray[np.generic]] = {}
    if cfg.phone_features:
        model = load_phone_model()
        bank_mean = np.concatenate(raw_banks).mean(axis=0)
        posteriors = StreamingPhonePosteriors(model, bank_mean)
        with_phones = []
        for f, b in zip(feats, raw_banks, strict=True):
            posteriors.reset()  # every sequence is a stream of its own
            with_phones.append(np.concatenate([f, posteriors.from_raw(b)], axis=1))
        feats = with_phones
        phone_arrays = model.arrays() | {"am_prior_mean": bank_mean.astype(np.float32)}
    log.info("features: %d sequences, %d frames, %d columns", len(feats), stacked.shape[0], feats[0].shape[1])
    return TrainingData(feats, targets, prior_mean, prior_var, phone_arrays)
