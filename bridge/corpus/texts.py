"""Training sentences: random word strings from the CMU dictionary shipped inside pocketsphinx.

Random words give far wider diphone coverage than a fixed text; frequent function words are
mixed in so phrases keep natural prosody and reduced vowels.
"""

from __future__ import annotations

import random
from pathlib import Path

from bridge.errors import ModelError

_FUNCTION_WORDS = (
    "the a an of to and in is you that it he was for on are as with his they at be this have from or "
    "one had by but not what all were we when your can said there use each which she do how their if "
    "will up about out many then them these so some her would make like him into time has look two more "
    "go see no way could people my than first been call who its now find long down day did get come made "
    "may part over new sound take only little work know place year live me back give most very after "
    "thing our just name good sentence man think say great where help through much before line right "
    "too mean old any same tell boy follow came want show also around form three small set put end does "
    "another well large must big even such because turn here why ask went men read need land different "
    "home us move try kind hand picture again change off play spell air away animal house point page "
    "letter mother answer found study still learn should world high every near add food between own below "
    "country plant last school father keep tree never start city earth eye light thought head under story "
    "saw left few while along might close something seem next hard open example begin life always those "
    "both paper together got group often run important until children side feet car mile night walk white "
    "sea began grow took river four carry state once book hear stop without second later miss idea enough "
    "eat face watch far really almost let above girl sometimes mountain cut young talk soon list song "
    "being leave family blue red green yellow white black zero five six seven eight nine ten please"
).split()


def cmu_dictionary_path() -> Path:
    """The CMU pronouncing dictionary inside the pocketsphinx wheel."""
    try:
        import pocketsphinx
    except ImportError as e:
        raise ModelError("training needs pocketsphinx (pip install -r requirements-dev.txt)") from e
    path = Path(pocketsphinx.__file__).parent / "model" / "en-us" / "cmudict-en-us.dict"
    if not path.is_file():
        raise ModelError(f"CMU dictionary not found at {path}")
    return path


def load_words() -> list[str]:
    """Plain alphabetic CMU headwords of 2..10 letters (alternate pronunciations dropped)."""
    words: set[str] = set()
    for line in cmu_dictionary_path().read_text(encoding="utf-8", errors="replace").splitlines():
        head = line.split(" ", 1)[0]
        if head.isalpha() and head.isascii() and 2 <= len(head) <= 10:
            words.add(head.lower())
    return sorted(words)


def make_sentences(n: int, seed: int, words: list[str]) -> list[str]:
    """``n`` sentences of 4..12 words, a third of them function words, deterministic in ``seed``."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        k = rng.randint(4, 12)
        picked = [rng.choice(_FUNCTION_WORDS) if rng.random() < 0.35 else rng.choice(words) for _ in range(k)]
        end = rng.choice([".", ".", ".", "?", "!", ","])
        out.append(" ".join(picked).capitalize() + end)
    return out
