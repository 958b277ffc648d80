"""AAPOR response, cooperation, refusal and contact rates (Standard Definitions, telephone surveys) from counts of
final dispositions, so `campaign report`, the API and the dashboard print the same figures.

Each disposition code falls in one group: I complete (1.1), P partial (1.2), R refusal and break-off (2.1x),
NC non-contact (2.2x), O other eligible (2.3x), UH unknown if a household (3.1x), UO unknown, other (3.2x-3.9x);
4.x are not eligible and in no rate.

    RR1   = I / ((I+P) + (R+NC+O) + (UH+UO))
    RR2   = (I+P) / ((I+P) + (R+NC+O) + (UH+UO))
    COOP1 = I / ((I+P) + R + O)
    REF1  = R / ((I+P) + (R+NC+O) + (UH+UO))
    CON1  = ((I+P) + R + O) / ((I+P) + R + O + NC + (UH+UO))

A rate whose denominator is zero is None (shown as "-"): nothing to divide yet, not 0 %.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

__all__ = ["FORMULAS", "GROUPS", "Rates", "group_of", "rates_from_codes"]

GROUPS: Final = ("I", "P", "R", "NC", "O", "UH", "UO", "NE")
FORMULAS: Final = {
    "RR1": "I / ((I+P) + (R+NC+O) + (UH+UO))",
    "RR2": "(I+P) / ((I+P) + (R+NC+O) + (UH+UO))",
    "COOP1": "I / ((I+P) + R + O)",
    "REF1": "R / ((I+P) + (R+NC+O) + (UH+UO))",
    "CON1": "((I+P) + R + O) / ((I+P) + R + O + NC + (UH+UO))",
}


def group_of(code: str) -> str:
    """The AAPOR group of a disposition code: "1.1" -> I, "2.12" -> R, "3.14" -> UH, "4.31" -> NE."""
    major, _, minor = code.partition(".")
    tenth = minor[:1]
    if major == "1":
        return "I" if minor == "1" else "P"
    if major == "2":
        return {"1": "R", "2": "NC"}.get(tenth, "O")
    if major == "3":
        return "UH" if tenth == "1" else "UO"
    return "NE"


@dataclass(frozen=True)
class Rates:
    """The five rates (fractions 0..1, None when undefined) and the group counts they come from."""

    groups: dict[str, int]
    RR1: float | None
    RR2: float | None
    COOP1: float | None
    REF1: float | None
    CON1: float | None

    def as_dict(self) -> dict[str, float | None]:
        """{"RR1": ..., ...} in the order FORMULAS lists them."""
        return {name: getattr(self, name) for name in FORMULAS}


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def rates_from_codes(counts: Mapping[str, int]) -> Rates:
    """Rates from {disposition code: number of contacts}, e.g. {"1.1": 40, "2.11": 10, "3.13": 50}."""
    g = dict.fromkeys(GROUPS, 0)
    for code, n in counts.items():
        g[group_of(code)] += n
    interviews = g["I"] + g["P"]
    eligible_or_unknown = interviews + g["R"] + g["NC"] + g["O"] + g["UH"] + g["UO"]
    contacted = interviews + g["R"] + g["O"]
    return Rates(
        groups=g,
        RR1=_ratio(g["I"], eligible_or_unknown),
        RR2=_ratio(interviews, eligible_or_unknown),
        COOP1=_ratio(g["I"], contacted),
        REF1=_ratio(g["R"], eligible_or_unknown),
        CON1=_ratio(contacted, contacted + g["NC"] + g["UH"] + g["UO"]),
    )
