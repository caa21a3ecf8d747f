"""--lexicon: a studio's own pronunciations, checked when loaded, used before the dictionary, part of the digest."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bridge.cli import main
from bridge.config import Config
from bridge.corpus.espeak import espeak_library_available, synthesize_espeak
from bridge.errors import ConfigError
from bridge.offline import align as align_module
from bridge.offline.align import align
from bridge.offline.lexicon import Lexicon, load_lexicon
from bridge.offline.manifest import settings_digest
from tests.conftest import EXAMPLE_WAV

needs_espeak = pytest.mark.skipif(not espeak_library_available(), reason="libespeak-ng is not installed")


def _file(tmp_path: Path, text: str, name: str = "lexicon.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def test_a_lexicon_is_read_as_cmu_dictionary_lines(tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        "\ufeff;;; copied from the CMU dictionary's header\n"
        "# the cast\n"
        "XALTHAR  Z AE1 L TH AA0 R\n"
        "ny'lessa N IY0 L EH1 S AH0   # the healer\n"
        "K\u2019THARR\tK TH AA R\n"
        "Zo\u00eb  Z OW IY\n"
        "\n"
        "XALTHAR  Z AE L TH AA R\n",  # the same again: harmless
    )
    lexicon = load_lexicon(path)
    assert lexicon.path == str(path)
    assert lexicon.entries == {"xalthar": "Z AE L TH AA R", "ny'lessa": "N IY L EH S AH", "k'tharr": "K TH AA R",
                               "zoe": "Z OW IY"}  # fmt: skip
    assert lexicon.used_by("Xalthar? XALTHAR! Where is Zo\u00eb?") == {"xalthar": "Z AE L TH AA R", "zoe": "Z OW IY"}
    assert lexicon.used_by(None) == {} and Lexicon().used_by("Xalthar") == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [("XALTHAR  Z AE Q\n", "lexicon.txt:1: unknown phone 'Q' for XALTHAR"),
     ("# cast\nXALTHAR  Z AE L T1 AA R\n", "lexicon.txt:2: unknown phone 'T1' for XALTHAR"),
     ("XALTHAR\n", "lexicon.txt:1: expected a word and its ARPAbet phones"),
     ("XALTHAR(2)  Z AA L\n", "lexicon.txt:1: XALTHAR(2): alternative pronunciations are not supported"),
     ("K'THARR-VO  K TH AA R V OW\n", "lexicon.txt:1: \"K'THARR-VO\" is not one word of letters as transcripts are "
      "read (read as k'tharr vo)"),
     ("R2D2  AA R T UW D IY T UW\n", "lexicon.txt:1: 'R2D2' is not one word"),
     ("\u041f\u0451\u0442\u0440  P Y AO T R\n", "(read as nothing)"),
     ("XALTHAR  Z AE L TH AA R\n\nxalthar  Z AA L TH AA R\n", "lexicon.txt:3: xalthar is given other phones on line 1"),
     ("XALTHAR  Z AE L\n\xff\n", "not UTF-8")],
    ids=["unknown phone", "stress on a consonant", "no phones", "alternative", "two words", "digits",
         "not English-readable", "given twice", "not UTF-8"],
)  # fmt: skip
def test_a_malformed_lexicon_line_is_named_by_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "lexicon.txt"
    path.write_bytes(text.encode("utf-8", "surrogateescape") if "\xff" not in text else text.encode("latin-1"))
    with pytest.raises(ConfigError, match="^--lexicon: ") as e:
        load_lexicon(path)
    assert message in str(e.value) and str(path) in str(e.value)


def test_a_bad_lexicon_stops_bake_before_anything_is_baked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _file(tmp_path, "XALTHAR  Z AE L TH AA R\nZARNAK  Z AA R N AA KK\n")
    out = tmp_path / "out"
    assert main(["bake", str(EXAMPLE_WAV), "-o", f"{out}/", "--text", "hello", "--lexicon", str(path),
                 "--no-progress"]) == 2  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{path}:2: unknown phone 'KK' for ZARNAK" in err[0]
    assert not out.exists()
    assert main(["bake", str(EXAMPLE_WAV), "--lexicon", str(tmp_path / "missing.txt")]) == 2
    assert "missing.txt: cannot read" in capsys.readouterr().err


def test_the_lexicon_entries_a_transcript_uses_are_part_of_the_digest() -> None:
    """Editing an entry bakes again the lines that say the word, and only those; no lexicon, no change."""
    cfg = Config()
    plain = settings_digest(cfg, {}, "Hello Xalthar")
    assert settings_digest(cfg, {}, "Hello Xalthar", {}) == plain  # bakes without a lexicon stay up to date
    one = settings_digest(cfg, {}, "Hello Xalthar", {"xalthar": "Z AE L TH AA R"})
    other = settings_digest(cfg, {}, "Hello Xalthar", {"xalthar": "Z AA L TH AA R"})
    assert len({plain, one, other}) == 3


def test_bake_is_out_of_date_when_an_entry_it_uses_changes(tmp_path: Path) -> None:
    path = _file(tmp_path, "HELLO  HH AH L OW\n")
    args = ["bake", str(EXAMPLE_WAV), "-o", f"{tmp_path / 'out'}/", "--text", "Hello!", "--lexicon", str(path),
            "--no-progress"]  # fmt: skip
    sidecar = tmp_path / "out" / "hello.bake.json"

    def digest_after_bake() -> str:
        assert main(args) == 0
        return str(json.loads(sidecar.read_text())["digest"])

    first = digest_after_bake()
    path.write_text("HELLO  HH AH L OW\nXALTHAR  Z AE L TH AA R\n")  # a word the line does not say
    assert digest_after_bake() == first
    path.write_text("HELLO  HH EH L OW\n")
    assert digest_after_bake() != first


@needs_espeak
def test_lexicon_pronunciations_are_aligned_without_a_warning() -> None:
    said = synthesize_espeak("Tell Zarnak to guard the gate.", "en-us", 150, 50)
    x = np.concatenate([np.zeros(8000, np.float32), said.samples, np.zeros(8000, np.float32)])
    # "zarnak" is not in the CMU dictionary; "guard" is (G AA R D), and the lexicon overrides it non-rhotic.
    lexicon = {"zarnak": "Z AA R N AA K", "guard": "G AA D"}
    result = align(x, said.sample_rate_hz, "Tell Zarnak to guard the gate.", lexicon)
    assert result.words == ("tell", "zarnak", "to", "guard", "the", "gate") and result.warnings == ()
    names = [p.name for p in result.phones if p.name != "SIL"]
    z = names.index("Z")
    assert names[z : z + 6] == ["Z", "AA", "R", "N", "AA", "K"] and names[-8:-5] == ["G", "AA", "D"]
    # Without the lexicon the same process guesses "zarnak" again and says "guard" as the dictionary does.
    plain = align(x, said.sample_rate_hz, "Tell Zarnak to guard the gate.")
    assert any("'zarnak'" in w and "guessed" in w for w in plain.warnings)
    assert [p.name for p in plain.phones if p.name != "SIL"][-9:-5] == ["G", "AA", "R", "D"]
    assert align_module._decoder().lookup_word("guard") == "G AA R D"
