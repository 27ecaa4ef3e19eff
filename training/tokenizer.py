"""Word-level tokenizer shared by training and serving.

The spec below is written into every manifest; the TypeScript service
implements the same steps, and golden token-id vectors keep the two equal.
Keep every step expressible identically in Python `re` and JavaScript RegExp.
"""
import re
import unicodedata

BOS = "<bos>"
UNK = "<unk>"
SPECIALS = [BOS, UNK]

# Steps, in order: NFKD, drop combining marks U+0300-U+036F (accents),
# map typographic apostrophes to ', lowercase, then match PATTERN globally.
APOSTROPHES = "\u2018\u2019\u02bc\u00b4`"
PATTERN = r"[a-z0-9]+(?:'[a-z0-9]+)*|[^\sa-z0-9]"
SUGGEST_PATTERN = r"^[a-z0-9]"

SPEC = {
    "type": "word-regex-v1",
    "normalization": ["NFKD", "strip U+0300-U+036F", "map [\u2018\u2019\u02bc\u00b4`] to '", "lowercase"],
    "apostrophes": APOSTROPHES,
    "pattern": PATTERN,
    "flags": "g",
    "bos": BOS,
    "unk": UNK,
    "specialTokens": SPECIALS,
    "contextStartsWithBos": True,
    # Vocabulary entries offered as suggestions: words and numbers, never
    # specials or punctuation (they still count as context).
    "suggestPattern": SUGGEST_PATTERN,
}

_combining = re.compile("[\u0300-\u036f]")
_apos = re.compile("[" + re.escape(APOSTROPHES) + "]")
_token = re.compile(PATTERN)


def normalize_keeping_case(text: str) -> str:
    """normalize() without the lowercasing (training/casing.py counts written forms)."""
    text = unicodedata.normalize("NFKD", text)
    text = _combining.sub("", text)
    return _apos.sub("'", text)


def normalize(text: str) -> str:
    return normalize_keeping_case(text).lower()


def tokenize(text: str) -> list[str]:
    return _token.findall(normalize(text))
