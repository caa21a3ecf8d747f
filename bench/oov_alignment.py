"""What a guessed pronunciation does for a transcript word missing from the dictionary, on real speech.

Each word of each dev clip's transcript is made out-of-dictionary in turn and the line is aligned
three ways: with the dictionary's pronunciation (the reference), with the word left out (what
``align`` did before espeak-ng guesses), and with espeak-ng's guess for it under an alias the
dictionary lacks. Reported: alignment failures, and the mean and largest distance (ms) of the
other words' start and end times from the reference, and of the word's own start and end (guess).

Usage: ``nice -n 10 .venv/bin/python bench/oov_alignment.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bridge.offline.align import _decoder, _force_align, guess_pronunciation, to_pcm16  # noqa: E402

DEV = ROOT.parent / "shared" / "data" / "dev"
CLIPS = {
    "speech/p225_001_mic1": "please call stella",
    "speech/p225_003_mic1": "six spoons of fresh snow peas five thick slabs of blue cheese and maybe a snack "
    "for her brother bob",
    "grid/bbaf2n": "bin blue at f two now",
    "grid/brbk7n": "bin red by k seven now",
    "grid/lbax4n": "lay blue at x four now",
    "grid/lbbc2a": "lay blue by c two again",
    "grid/lrwp9a": "lay red with p nine again",
}
_FRAME_S = 0.01


def word_times(pcm: bytes, words: list[str]) -> list[tuple[str, float, float]] | None:
    """(word, start_s, end_s) of ``words`` force-aligned as ``align`` does; None when it fails."""
    try:
        result = _force_align(_decoder(), words, pcm)
    except RuntimeError:
        return None
    # Alternative pronunciations come back as "word(2)"; fillers and silences are not transcript words.
    named = [(w.name.split("(")[0], w) for w in result.words()]
    return [(name, w.start * _FRAME_S, (w.start + w.duration) * _FRAME_S) for name, w in named if name in words]


def main() -> None:
    decoder = _decoder()
    other_out: list[float] = []
    other_guess: list[float] = []
    own_guess: list[float] = []
    fails = {"left out": 0, "guessed": 0}
    same = 0
    n = 0
    for clip, text in CLIPS.items():
        x, rate = sf.read(str(DEV / f"{clip}.wav"), dtype="float32")
        pcm = to_pcm16(x, rate)
        words = text.split()
        ref = word_times(pcm, words)
        assert ref is not None, clip
        for i, word in enumerate(words):
            if words.index(word) != i:
                continue  # a repeated word ("of"): its alias would stand for both
            n += 1
            guess = guess_pronunciation(word)
            assert guess is not None
            alias = "zzoov" + word
            if decoder.lookup_word(alias) is None:
                decoder.add_word(alias, guess, True)
            dictionary = decoder.lookup_word(word)
            same += guess == dictionary
            out = word_times(pcm, [w for w in words if w != word])
            guessed = word_times(pcm, [alias if w == word else w for w in words])
            keep = [r for r in ref if r[0] != word]
            for name, got, errors in (("left out", out, other_out), ("guessed", guessed, other_guess)):
                if got is None:
                    fails[name] += 1
                    continue
                mine = [g for g in got if g[0] != alias]
                for r, g in zip(keep, mine, strict=True):
                    errors += [abs(r[1] - g[1]), abs(r[2] - g[2])]
            if guessed is not None:
                r = next(r for r in ref if r[0] == word)
                g = next(g for g in guessed if g[0] == alias)
                own_guess += [abs(r[1] - g[1]), abs(r[2] - g[2])]
            sys.stdout.write(f"{clip} {word!r}: dictionary {dictionary!r}, guess {guess!r}\n")
    sys.stdout.write(f"{n} words, espeak-ng's guess equals the dictionary's pronunciation for {same}\n")
    sys.stdout.write(f"failures: {fails}\n")
    for name, e in (("other words, left out", other_out), ("other words, guessed", other_guess),
                    ("the word itself, guessed", own_guess)):  # fmt: skip
        ms = 1000 * np.asarray(e)
        sys.stdout.write(
            f"{name}: {ms.size} boundaries, mean {ms.mean():.1f} ms, 95th pct {np.percentile(ms, 95):.0f} ms, "
            f"max {ms.max():.0f} ms, over 50 ms: {(ms > 50).sum()}\n"
        )


if __name__ == "__main__":
    main()
