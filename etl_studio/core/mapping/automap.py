"""Auto-map: propose source -> target column pairs by normalised name, then by similarity, each scored."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from rapidfuzz import fuzz

# Below this a "match" is more likely a coincidence than the same column.
MIN_SCORE = 70.0


@dataclass(frozen=True)
class MapProposal:
    source: str
    target: str
    score: float  # 0..100
    reason: str


def normalise(name: str) -> str:
    """'Customer E-mail ' -> 'customeremail': case, accents, spaces, underscores and punctuation ignored."""
    decomposed = unicodedata.normalize("NFKD", name)
    ascii_only = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return re.sub(r"[^0-9a-z]+", "", ascii_only.lower())


def _tokens(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name)
    ascii_only = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", ascii_only)  # camelCase -> camel Case
    return " ".join(re.findall(r"[0-9a-z]+", spaced.lower()))


def auto_map(source_columns: list[str], target_columns: list[str], *, min_score: float = MIN_SCORE) -> list[MapProposal]:
    """One proposal per target at most, each source used once, best scores first.

    Exact normalised matches win outright (score 100); the rest are paired greedily by
    token-set similarity so that 'cust_email' finds 'customer_email' but two targets
    never compete for one source.
    """
    proposals: list[MapProposal] = []
    used_sources: set[str] = set()
    open_targets: list[str] = []
    by_norm: dict[str, str] = {}
    for source in source_columns:
        by_norm.setdefault(normalise(source), source)
    for target in target_columns:
        source = by_norm.get(normalise(target))
        if source is not None and source not in used_sources:
            reason = "same name" if source == target else "same name ignoring case, spaces and accents"
            proposals.append(MapProposal(source, target, 100.0, reason))
            used_sources.add(source)
        else:
            open_targets.append(target)
    candidates: list[tuple[float, str, str]] = []
    for target in open_targets:
        for source in source_columns:
            if source in used_sources:
                continue
            score = max(
                fuzz.token_set_ratio(_tokens(source), _tokens(target)),
                fuzz.ratio(normalise(source), normalise(target)),
            )
            if score >= min_score:
                candidates.append((float(score), source, target))
    candidates.sort(key=lambda c: (-c[0], c[2], c[1]))
    taken_targets: set[str] = set()
    for score, source, target in candidates:
        if source in used_sources or target in taken_targets:
            continue
        proposals.append(MapProposal(source, target, round(score, 1), "similar name"))
        used_sources.add(source)
        taken_targets.add(target)
    order = {t: i for i, t in enumerate(target_columns)}
    proposals.sort(key=lambda p: order[p.target])
    return proposals
