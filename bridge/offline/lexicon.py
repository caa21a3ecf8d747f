"""A studio's own pronunciations (``--lexicon FILE``): CMU dictionary lines, checked when loaded.

One entry a line, the word then its ARPAbet phones with optional stress digits, as in the CMU
dictionary (``XALTHAR  Z AE L TH AA R``); ``#`` starts a comment, and lines starting ``;;;`` (the CMU
dictionary's own comments) are skipped. The file is UTF-8, with or without a byte-order mark. A word
is matched as transcripts are read (``normalize_text``: case and accents do not matter, and curly
apostrophes are apostrophes), and its entry comes before the CMU dictionary and espeak-ng's guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from bridge.errors import ConfigError
from bridge.offline.transcript import normalize_text

# The phones of pocketsphinx's en-us model (the CMU dictionary's 39); the vowels may carry a stress digit.
VOWELS = frozenset("AA AE AH AO AW AY EH ER EY IH IY OW OY UH UW".split())
PHONES = VOWELS | frozenset("B CH D DH F G HH JH K L M N NG P R S SH T TH V W Y Z ZH".split())
_PHONE = re.compile(r"([A-Z]+)([012]?)")
_WORD = re.compile(r"[^\W\d_]+(?:['\u2019\u2018\u02bc`][^\W\d_]+)*")  # letters, apostrophes inside


@dataclass(frozen=True, slots=True)
class Lexicon:
    """Pronunciations given by the user.

    Attributes:
        path: the file they came from, as given ("" for none).
        entries: normalized word -> CMU phones without stress digits ("xalthar" -> "Z AE L TH AA R").
    """

    path: str = ""
    entries: dict[str, str] = field(default_factory=dict)

    def used_by(self, transcript: str | None) -> dict[str, str]:
        """The entries for the words of ``transcript``: what a bake of it depends on."""
        if not self.entries or not transcript:
            return {}
        return {w: self.entries[w] for w in sorted(set(normalize_text(transcript))) if w in self.entries}


def _entry(line: str) -> tuple[str, str, str]:
    """(word as written, normalized word, phones) of one lexicon line.

    Raises:
        ValueError: the line is malformed; the message says how.
    """
    word, *phones = line.split()
    if not phones:
        raise ValueError(f"expected a word and its ARPAbet phones (XALTHAR  Z AE L TH AA R), got {line!r}")
    if re.fullmatch(r".+\([0-9]+\)", word):
        raise ValueError(f"{word}: alternative pronunciations are not supported; give the word once, as it is said")
    said = normalize_text(word)
    if not _WORD.fullmatch(word) or len(said) != 1:
        read = " ".join(said) or "nothing"
        raise ValueError(f"{word!r} is not one word of letters as transcripts are read (read as {read})")
    out: list[str] = []
    for p in phones:
        m = _PHONE.fullmatch(p.upper())
        if m is None or m[1] not in PHONES or (m[2] and m[1] not in VOWELS):
            raise ValueError(f"unknown phone {p!r} for {word} (ARPAbet: {' '.join(sorted(PHONES))})")
        out.append(m[1])
    return word, said[0], " ".join(out)


def load_lexicon(path: Path) -> Lexicon:
    """Read and check a lexicon file.

    Raises:
        ConfigError: it cannot be read, is not UTF-8, or a line is malformed (named by file and line).
    """
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as e:
        raise ConfigError(f"--lexicon: {path}: cannot read ({e.strerror or e})") from e
    except UnicodeDecodeError as e:
        raise ConfigError(f"--lexicon: {path}: not UTF-8 ({e}); save it as UTF-8") from e
    entries: dict[str, str] = {}
    first: dict[str, int] = {}
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith(";;;"):
            continue
        try:
            word, key, phones = _entry(line)
        except ValueError as e:
            raise ConfigError(f"--lexicon: {path}:{n}: {e}") from e
        if key in entries and entries[key] != phones:
            raise ConfigError(
                f"--lexicon: {path}:{n}: {word} is given other phones on line {first[key]} ({entries[key]})"
            )
        entries.setdefault(key, phones)
        first.setdefault(key, n)
    return Lexicon(str(path), entries)
