"""How digits are said aloud, per language (en, es, fr, de, pt): what a transcript may hold for a number, so a
sensitive answer can be found in it however the caller spelt it (forms.redaction). Pure data."""

from __future__ import annotations

__all__ = ["DIGIT_WORDS", "digit_words"]

# Per language, for each digit 0-9, the words a speech-to-text engine may write for it (lower case; accents
# and their plain spellings both, as transcripts differ). Shared words across languages are harmless.
DIGIT_WORDS: dict[str, tuple[tuple[str, ...], ...]] = {
    "en": (("zero", "oh"), ("one",), ("two",), ("three",), ("four",), ("five",), ("six",), ("seven",),
           ("eight",), ("nine",)),
    "es": (("cero",), ("uno", "una", "un"), ("dos",), ("tres",), ("cuatro",), ("cinco",), ("seis",), ("siete",),
           ("ocho",), ("nueve",)),
    "fr": (("zéro", "zero"), ("un", "une"), ("deux",), ("trois",), ("quatre",), ("cinq",), ("six",), ("sept",),
           ("huit",), ("neuf",)),
    "de": (("null",), ("eins", "ein", "eine"), ("zwei", "zwo"), ("drei",), ("vier",), ("fünf", "fuenf", "funf"),
           ("sechs",), ("sieben",), ("acht",), ("neun",)),
    "pt": (("zero",), ("um", "uma"), ("dois", "duas"), ("três", "tres"), ("quatro",), ("cinco",),
           ("seis", "meia"), ("sete",), ("oito",), ("nove",)),
}


def digit_words(locale: str | None) -> tuple[tuple[str, ...], ...]:
    """The words for each digit in `locale`'s language and in English (the fallback), English first."""
    english = DIGIT_WORDS["en"]
    language = (locale or "en").replace("_", "-").split("-")[0].lower()
    other = DIGIT_WORDS.get(language)
    if other is None or other is english:
        return english
    return tuple(tuple(dict.fromkeys(en + theirs)) for en, theirs in zip(english, other, strict=True))
