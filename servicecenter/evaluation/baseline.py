"""The baseline to beat: BM25 keyword search over the service pages, as a town web site's
search box would do it (each turn text alone: a search box has no context)."""

from __future__ import annotations

import re
from typing import Any, Dict, List, Mapping, Optional, Sequence

from servicecenter.evaluation.dataset import Turn
from servicecenter.text import STOP_WORDS, fold_umlauts

METHOD = ("BM25 (rank_bm25.BM25Okapi) over service name, synonyms, teaser and text; "
          "top-1 per turn text, no service when no query word matches")
_NON_LETTERS = re.compile(r"[^a-z]+")


def tokenize(text: str) -> List[str]:
    """Lower case, fold umlauts, split on non-letters, drop stop words and single letters."""
    folded = fold_umlauts(text.lower())
    return [tok for tok in _NON_LETTERS.split(folded) if len(tok) > 1 and tok not in STOP_WORDS]


def service_document(service: Any) -> str:
    return " ".join([service.name, *service.synonyms, service.teaser, service.text])


class Bm25Baseline:
    """Keyword search over the service pages."""

    def __init__(self, documents: Mapping[str, str]):
        from rank_bm25 import BM25Okapi

        self.slugs = list(documents)
        self._bm25 = BM25Okapi([tokenize(documents[s]) for s in self.slugs])

    @classmethod
    def from_knowledge(cls, kb: Any) -> "Bm25Baseline":
        return cls({slug: service_document(svc) for slug, svc in sorted(kb.services.items())})

    def scores(self, text: str) -> Dict[str, float]:
        query = tokenize(text)
        if not query:
            return {slug: 0.0 for slug in self.slugs}
        return dict(zip(self.slugs, (float(s) for s in self._bm25.get_scores(query)), strict=True))

    def predict(self, text: str) -> Optional[str]:
        """Top-1 service; None when no word of the text occurs in any page (best score 0)."""
        scores = self.scores(text)
        best = max(self.slugs, key=lambda s: scores[s])
        return best if scores[best] > 0 else None


def baseline_turns(turns: Sequence[Turn], baseline: Bm25Baseline) -> List[Turn]:
    """The same turns with the baseline's prediction."""
    return [
        Turn(t.case_id, t.index, t.channel, t.text, t.expected, {"service": baseline.predict(t.text)})
        for t in turns
    ]
