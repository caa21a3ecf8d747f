"""Transcript text as an English speaker reads it: the words a pronunciation dictionary can know.

Numbers, money, years, times, symbols and common abbreviations are spelled out; stage directions,
markup and placeholders, which nobody says, are left out; what is not English-readable (other
scripts, emoji) is left out and reported. Used by forced alignment (``bridge.offline.align``) and
the studio lexicon (``bridge.offline.lexicon``).
"""

from __future__ import annotations

import html
import re
import unicodedata

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_ORDINALS = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth", "nine": "ninth",
             "twelve": "twelfth"}  # fmt: skip
_NUMBER = r"[0-9]{1,3}(?:,[0-9]{3})+(?![0-9])|[0-9]+"  # thousands commas allowed
_SIGN = r"(?<![\w.,])[-\u2212]"  # a minus sign, not the hyphen after a word or number ("F-16")
# One spoken unit each: an amount of money, sign first ("$5", "-$5", "$5k", "$.50") or amount first
# ("5€", "5 €"); an ISO date ("2024-03-15"); a phone number ("1-800-555-0199"); a time ("3:00",
# "10:05"); a minus sign; the dash of a range ("5-10", "5 - 10", "5–10", "5—10"); "#" before a number;
# a number with its decimals, an ordinal or plural suffix ("2nd", "1990s"), a scale ("5k", "2bn") or a
# percent sign; an abbreviation (``_ABBREVIATIONS``); a symbol said as a word; or a word.
_TOKEN = re.compile(
    rf"(?P<neg>{_SIGN})?(?P<currency>[$\u00a3\u20ac])\s?"
    rf"(?:(?P<amount>{_NUMBER})(?:\.(?P<cents>[0-9]+))?|\.(?P<cents_only>[0-9]{{2}})(?![0-9]))"
    r"(?:\s+(?P<scale>thousand|million|billion|trillion)\b|(?P<suffix>k|mn|m|bn|b|tn|t)\b)?"
    rf"|(?P<neg_after>{_SIGN})?(?P<amount_after>{_NUMBER})(?:\.(?P<cents_after>[0-9]+))?"
    r"\s?(?P<currency_after>[$\u00a3\u20ac])"
    r"|(?P<date>(?<![0-9-])(?P<year>1[1-9][0-9]{2}|20[0-9]{2})-(?P<month>0[1-9]|1[0-2])"
    r"-(?P<day>0[1-9]|[12][0-9]|3[01])(?![0-9-]))"
    r"|(?P<phone>(?<![0-9])(?:[0-9]{1,4}-)+[0-9]{3}-[0-9]{4}(?![0-9]))"
    r"|(?P<time>(?<![0-9:.])(?P<hour>[01]?[0-9]|2[0-4]):(?P<minute>[0-5][0-9])(?![0-9]))"
    rf"|(?P<minus>{_SIGN}(?=[0-9]))"
    r"|(?P<range>(?<=[0-9])(?:-|\s?[\u2013\u2014]\s?|\s+-\s+)(?=[0-9]))"
    r"|(?P<hash>#(?=[0-9]))"
    rf"|(?P<number>{_NUMBER})(?:\.(?P<fraction>[0-9]+))?"
    r"(?:(?P<ordinal>st|nd|rd|th)\b|(?P<plural>'?s)\b|(?P<number_scale>(?-i:k)|bn|tn)\b)?(?P<percent>\s?%)?"
    r"|(?P<abbrev>(?<![\w'.])(?:dr\.?(?=\s+(?-i:[A-Z]))|vs\b\.?|approx\b\.?|e\.g\b\.?|i\.e\b\.?))"
    r"|(?P<symbol>[&@+])"
    r"|(?P<word>[A-Za-z]+(?:'[A-Za-z]+)*)",
    re.IGNORECASE,
)
_SYMBOLS = {"&": "and", "@": "at", "+": "plus"}
# Scale letters after an amount of money ("$5k", "$5M", "$2bn") and, where unambiguous, after a bare
# number ("5k", "2bn"; not "5K" or "5m", which are said "five K" and "five metres").
_SCALES = {"k": "thousand", "m": "million", "mn": "million", "b": "billion", "bn": "billion", "t": "trillion",
           "tn": "trillion"}  # fmt: skip
# Abbreviations the dictionary reads as other words ("dr" is "drive", "vs" and "e.g." are spelled out),
# by their letters. "Dr" is read "doctor" only as a title, before a capitalised word ("Dr. Jones",
# "Dr Jones"). "Mr", "Mrs", "Ms" and "etc" need no entry: the dictionary says mister, missus, miz and
# et cetera. "St." is left alone: saint or street, and the dictionary has both.
_ABBREVIATIONS = {"dr": "doctor", "vs": "versus", "approx": "approximately", "eg": "for example",
                  "ie": "that is"}  # fmt: skip
# Curly quotes, the modifier letter apostrophe and the backtick, as typed for an apostrophe ("donʼt").
_APOSTROPHES = str.maketrans(dict.fromkeys("\u2019\u2018\u02bc`", "'"))
_SAID = {"minus": "minus", "range": "to", "hash": "number"}
_MONTHS = ("January February March April May June July August September October November "
           "December").lower().split()  # fmt: skip
# Letters NFKD does not decompose, as English readers say them ("Bjørn", "Æthelred", "Straße").
_LETTERS = str.maketrans({"\u00f8": "o", "\u00d8": "O", "\u00e6": "ae", "\u00c6": "Ae", "\u0153": "oe",
                          "\u0152": "Oe", "\u00df": "ss", "\u0142": "l", "\u0141": "L", "\u0111": "d",
                          "\u0110": "D", "\u00fe": "th", "\u00de": "Th", "\u00f0": "th", "\u00d0": "Th",
                          "\u0131": "i"})  # fmt: skip
# Currency sign -> unit, units, hundredth, hundredths.
_CURRENCIES = {"$": ("dollar", "dollars", "cent", "cents"), "\u00a3": ("pound", "pounds", "penny", "pence"),
               "\u20ac": ("euro", "euros", "cent", "cents")}  # fmt: skip
# Vulgar fractions, alone and after a whole number ("2½" is "two and a half"). Replaced before the
# NFKD fold, which would turn "2½" into "21⁄2".
_VULGAR = {"\u00bd": ("one half", "a half"), "\u00bc": ("one quarter", "a quarter"),
           "\u00be": ("three quarters", "three quarters"), "\u2153": ("one third", "a third"),
           "\u2154": ("two thirds", "two thirds")}  # fmt: skip
_VULGAR_AFTER_NUMBER = re.compile(r"(?<=[0-9])\s?([\u00bd\u00bc\u00be\u2153\u2154])")
_VULGAR_ALONE = re.compile(r"[\u00bd\u00bc\u00be\u2153\u2154]")
# What dialogue scripts write but nobody says: stage directions ("[laughs]", "(whispering)"), markup
# tags ("<b>", "<break time='1s'/>": the text between tags is kept) and localisation placeholders
# ("{playerName}", "{{name}}", "%PLAYER_NAME%", whose spoken value the script does not hold).
# Asterisks are not directions: scripts mark emphasis with them ("That's *not* what I said").
# printf-style ("%s", "%d", "%1$s", "%.2f", "%@") and shell-style ("$name", "${name}") placeholders too. A
# tag starts with a letter, "/" or "!" right after "<", so "a < b and c > d" keeps its words.
_UNSPOKEN = re.compile(
    r"(?<![0-9A-Za-z%])%(?:\([A-Za-z_][A-Za-z0-9_]*\)|[0-9]+\$)?[-+0#]?[0-9]*(?:\.[0-9]+)?(?:ll|l|h)?[sdifuxXeEgGc@]"
    r"(?![A-Za-z])|%[A-Za-z_][A-Za-z0-9_]*%|\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*"
    r"|\[[^\]]*\]|\([^)]*\)|\{\{[^{}]*\}\}|\{[^}]*\}|<!--.*?-->|<[/!?]?[A-Za-z][^<>]*>"
)
# Unicode categories of what the reader cannot say, reported when left out (letters of other scripts,
# digits, currency signs and other symbols, emoji among them); punctuation is dropped silently.
_READABLE_CATEGORIES = ("L", "N", "Sc", "So")
# A four-digit number in this range, without a thousands comma, is read as a year ("1990" nineteen
# ninety, "2024" twenty twenty four): in dialogue such a number is usually a date, and for counts
# 1100-1999 the year reading is also what speakers say ("fifteen hundred"). Write "2,048" for a count.
_YEARS = range(1100, 2100)


def number_words(n: int) -> list[str]:
    """English words for 0 <= n < 10**12 ("twenty one", "one thousand two hundred")."""
    if n < 20:
        return [_ONES[n]]
    if n < 100:
        tens, ones = divmod(n, 10)
        return [_TENS[tens]] + ([_ONES[ones]] if ones else [])
    for size, name in ((10**9, "billion"), (10**6, "million"), (1000, "thousand"), (100, "hundred")):
        if n >= size:
            head, rest = divmod(n, size)
            return number_words(head) + [name] + (number_words(rest) if rest else [])
    raise AssertionError("unreachable")


def ordinal_words(n: int) -> list[str]:
    """English ordinal for 0 <= n < 10**12 ("twenty first", "one hundredth")."""
    words = number_words(n)
    last = words[-1]
    words[-1] = _ORDINALS.get(last) or (last[:-1] + "ieth" if last.endswith("y") else last + "th")
    return words


def year_words(n: int) -> list[str]:
    """English reading of a year 1100 <= n < 2100 ("nineteen oh five", "nineteen hundred", "two thousand
    five", "twenty twenty four")."""
    head, tail = divmod(n, 100)
    if 2000 <= n < 2010:
        return number_words(n)
    if tail == 0:
        return number_words(head) + ["hundred"]
    return number_words(head) + (["oh"] if tail < 10 else []) + number_words(tail)


def _plural(words: list[str]) -> list[str]:
    """A number's reading as a plural ("nineteen nineties", "sixes", "hundreds" for one hundred)."""
    if len(words) == 2 and words[0] == "one" and words[1] in ("hundred", "thousand", "million", "billion"):
        words = words[1:]
    last = words[-1]
    plural = last[:-1] + "ies" if last.endswith("y") else last + "es" if last.endswith("x") else last + "s"
    return words[:-1] + [plural]


def _digit_words(digits: str) -> list[str]:
    return [_ONES[int(d)] for d in digits]


def _cardinal(digits: str) -> list[str]:
    return _digit_words(digits) if len(digits) >= 13 else number_words(int(digits))


def _money(sign: str, amount: str, cents: str | None, scale: str | None) -> list[str]:
    """Money as said ("$5.50" five dollars fifty cents, "$2.5 million" two point five million dollars)."""
    one, many, hundredth, hundredths = _CURRENCIES[sign]
    major = amount.replace(",", "")
    if scale is not None or (cents is not None and len(cents) != 2):
        words = _cardinal(major) + (["point", *_digit_words(cents)] if cents else [])
        return words + ([scale.lower()] if scale else []) + [many]
    minor = int(cents or "0")
    words = []
    if int(major) or not minor:
        words += _cardinal(major) + [one if int(major) == 1 else many]
    if minor:
        words += number_words(minor) + [hundredth if minor == 1 else hundredths]
    return words


def _number(m: re.Match[str]) -> list[str]:
    number, fraction, ordinal, plural, percent = m.group("number", "fraction", "ordinal", "plural", "percent")
    scale = [_SCALES[m["number_scale"].lower()]] if m["number_scale"] else []
    digits = number.replace(",", "")
    if fraction:
        words = _cardinal(digits) + ["point", *_digit_words(fraction)]
    elif ordinal:
        words = ordinal_words(int(digits)) if len(digits) < 13 else _digit_words(digits)
    else:
        year = len(number) == 4 and int(digits) in _YEARS and not percent
        words = year_words(int(digits)) if year else _cardinal(digits)
        if plural:
            words = _plural(words)
    return words + scale + (["percent"] if percent else [])


def _time(hour: str, minute: str) -> list[str]:
    """A clock time as said ("3:00" three o'clock, "15:00" fifteen hundred, "10:05" ten oh five)."""
    h, m = int(hour), int(minute)
    if m == 0:
        return number_words(h) + (["o'clock"] if 1 <= h <= 12 else ["hundred"])
    return number_words(h) + (["oh"] if m < 10 else []) + number_words(m)


def _phone_number(digits: str) -> list[str]:
    """A phone number digit by digit, 0 as "oh" ("1-800-555-0199")."""
    return ["oh" if d == "0" else _ONES[int(d)] for d in digits if d.isdigit()]


def _same_number_around(m: re.Match[str]) -> bool:
    before = re.search(r"[0-9]+$", m.string[: m.start()])
    after = re.match(r"[0-9]+", m.string[m.end() :])
    return before is not None and after is not None and before[0] == after[0]


def _token_words(m: re.Match[str]) -> list[str]:
    """The words one ``_TOKEN`` match is read as."""
    if m["word"] is not None:
        return [m["word"].lower()]
    if m["number"] is not None:
        return _number(m)
    if m["currency"] is not None:
        scale = m["scale"] or (_SCALES[m["suffix"].lower()] if m["suffix"] else None)
        amount, cents = (m["amount"], m["cents"]) if m["amount"] is not None else ("0", m["cents_only"])
        return (["minus"] if m["neg"] else []) + _money(m["currency"], amount, cents, scale)
    if m["currency_after"] is not None:
        return (["minus"] if m["neg_after"] else []) + _money(m["currency_after"], m["amount_after"],
                                                              m["cents_after"], None)  # fmt: skip
    if m["date"] is not None:  # as said in English dialogue: "March fifteenth twenty twenty four"
        return [_MONTHS[int(m["month"]) - 1], *ordinal_words(int(m["day"])), *year_words(int(m["year"]))]
    if m["phone"] is not None:
        return _phone_number(m["phone"])
    if m["range"] is not None and _same_number_around(m):
        return []  # "50-50" is fifty-fifty, not fifty to fifty
    if m["time"] is not None:
        return _time(m["hour"], m["minute"])
    if m["abbrev"] is not None:
        return _ABBREVIATIONS[re.sub(r"[^a-z]", "", m["abbrev"].lower())].split()
    if m["symbol"] is not None:
        return [_SYMBOLS[m["symbol"]]]
    return [_SAID[str(m.lastgroup)]]


def read_text(text: str) -> tuple[list[str], list[str]]:
    """The words of ``text`` (``normalize_text``) and the pieces left out as not English-readable."""
    text = _UNSPOKEN.sub(" ", html.unescape(text)).translate(_APOSTROPHES).translate(_LETTERS)
    text = _VULGAR_AFTER_NUMBER.sub(lambda m: f" and {_VULGAR[m[1]][1]} ", text)
    text = _VULGAR_ALONE.sub(lambda m: f" {_VULGAR[m[0]][0]} ", text)
    # Accents folded character by character (the same as folding the whole text: only the combining
    # marks NFKD would reorder are dropped), remembering where each folded character came from.
    chars: list[str] = []
    origin: list[int] = []
    for i, c in enumerate(text):
        for d in unicodedata.normalize("NFKD", c):
            if not unicodedata.combining(d):
                chars.append(d)
                origin.append(i)
    folded = "".join(chars)
    words: list[str] = []
    read = [False] * len(folded)
    for m in _TOKEN.finditer(folded):
        words += _token_words(m)
        read[m.start() : m.end()] = [True] * (m.end() - m.start())
    left_out: list[str] = []
    start = None
    for i in range(len(folded) + 1):
        if i < len(folded) and not read[i] and not folded[i].isspace():
            start = i if start is None else start
            continue
        if start is not None:
            if any(unicodedata.category(c).startswith(_READABLE_CATEGORIES) for c in folded[start:i]):
                piece = text[origin[start] : origin[i - 1] + 1]
                left_out.append(_strip_punctuation(piece))
            start = None
    return words, left_out


def _strip_punctuation(piece: str) -> str:
    lo, hi = 0, len(piece)
    while lo < hi and unicodedata.category(piece[lo]).startswith("P"):
        lo += 1
    while hi > lo and unicodedata.category(piece[hi - 1]).startswith("P"):
        hi -= 1
    return piece[lo:hi]


def normalize_text(text: str) -> list[str]:
    """Lowercase words the dictionary can know, as an English speaker reads the text.

    HTML entities are decoded ("&amp;" and). Accents are folded (café -> cafe, Bjørn -> bjorn), and
    curly quotes, ʼ and ` inside a word are apostrophes. Spelled out: numbers ("1,000" one thousand),
    ordinals ("2nd" second), decimals and percentages ("3.5%" three point five percent), scales ("5k"
    five thousand, "2bn" two billion), money in $, £ and € ("$5.50" five dollars fifty cents, "-$5"
    minus five dollars, "$5M" five million dollars, "5€" five euros), four-digit numbers 1100-2099 as
    years ("1990" nineteen ninety) and plurals ("1990s" nineteen nineties, "5s" fives), ½ ¼ ¾ ⅓ ⅔ ("2½"
    two and a half), a minus sign before a number ("-5" minus five; not the hyphen of "F-16"), a range's
    dash ("5-10", "5 - 10", "5—10" five to ten), times ("3:00" three o'clock, "10:05" ten oh five),
    phone numbers digit by digit ("1-800-555-0199"), "#" before a number (number), "&" (and), "@" (at),
    "+" (plus) and the abbreviations of ``_ABBREVIATIONS`` ("Dr. Jones" doctor jones, "vs" versus).
    Stage directions, markup tags and placeholders (``unspoken_parts``) are left out, and so is what
    is not English-readable (``unreadable_parts``). Other punctuation is removed.
    """
    return read_text(text)[0]


def unreadable_parts(text: str) -> list[str]:
    """What normalize_text leaves out as not English-readable: words in other scripts ("Привет", "こんにちは"),
    emoji and other symbols ("😀", "°"), in order of appearance."""
    return read_text(text)[1]


def unspoken_parts(text: str) -> list[str]:
    """The stage directions, markup tags and placeholders of a transcript, which normalize_text leaves out."""
    return _UNSPOKEN.findall(html.unescape(text))
