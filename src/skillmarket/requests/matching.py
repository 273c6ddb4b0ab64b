"""Finding skills, and chains of two or three skills, that do what a request asks.

Both searches are bounded so they stay fast at 10,000+ skills:

1. The SQL pre-filter (:meth:`ShapeIndex.candidates`) keeps live skills within the price whose
   signatures can fit, cheapest first, at most :data:`PREFILTER_CAP`.
2. Candidates are ordered by text relevance to the request (the catalog's full-text index,
   any word) and cheapness; the first :data:`CHECK_CAP` are checked in full in Python.
3. Chains: the first hop comes from skills accepting the request's input, the last from skills
   giving its output (:data:`HOP_CAP` each); the middle of a three-step chain from one more
   pre-filter (inputs the first hops can feed, outputs the last hops can take), at most
   :data:`MIDDLE_CAP`. Chains containing a skill that alone matches the request, and three-step
   chains whose ends already connect, are left out: a shorter answer exists.

Nothing runs: a chain is advice the buyer's agent may follow, invoking each skill in turn.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from skillmarket.catalog.services import CatalogService
from skillmarket.db import Database
from skillmarket.requests import ranking
from skillmarket.requests.compatibility import Verdict, check_compact
from skillmarket.requests.index import Candidate, ShapeIndex, SkillSchemas
from skillmarket.requests.models import (
    Composition,
    CompositionList,
    CompositionStep,
    MatchList,
    PropertyMapping,
    SkillMatch,
)
from skillmarket.requests.shapes import OBJECT, Shape, may_fit

PREFILTER_CAP = 5000
HOP_PREFILTER_CAP = 1500
CHECK_CAP = 300
HOP_CAP = 25
MIDDLE_CHECK_CAP = 100
MIDDLE_CAP = 60
PER_MIDDLE = 5


@dataclass(frozen=True)
class Spec:
    """What matching needs of a request: compacted schemas, their shapes, words, budget."""

    id: str
    text: str
    input: Any
    output: Any
    producer: Shape
    consumer: Shape
    max_price_cents: int


@dataclass(frozen=True)
class _Hop:
    candidate: Candidate
    schemas: SkillSchemas
    verdicts: tuple[Verdict, ...]
    relevance: float

    @property
    def skill_id(self) -> str:
        return self.candidate.skill_id

    @property
    def price(self) -> int:
        return self.candidate.price_cents


def _maps(verdict: Verdict) -> list[PropertyMapping]:
    return [
        PropertyMapping(path=m.path, source=m.source, target=m.target) for m in verdict.mappings
    ]


def _caveats(where: str, verdict: Verdict) -> list[str]:
    return [f"{where}: {c}" for c in verdict.caveats]


Fit = Callable[[SkillSchemas], list[Verdict]]


class Matcher:
    """Matches and chain suggestions for requests, from the shape index and the catalog."""

    def __init__(
        self,
        db: Database,
        index: ShapeIndex,
        catalog: CatalogService,
        ratings: ranking.RatingSource | None = None,
    ):
        self.db = db
        self.index = index
        self.catalog = catalog
        self.ratings = ratings

    def _ratings(self, skill_ids: list[str]) -> dict[str, float]:
        return self.ratings.scores(skill_ids) if self.ratings else {}

    def _hops(
        self, found: list[Candidate], relevance: dict[str, float], spec: Spec, fit: Fit, keep: int
    ) -> tuple[list[_Hop], int]:
        """Check the best :data:`CHECK_CAP` candidates in order until ``keep`` of them fit.

        ``fit`` returns the verdicts a skill must pass, computed lazily: it stops at the
        first incompatible one. Returns the fitting skills and how many were checked.
        """
        order = sorted(
            found,
            key=lambda c: (
                -ranking.prescore(
                    relevance.get(c.skill_id, 0.0), c.price_cents, spec.max_price_cents
                )
            ),
        )[:CHECK_CAP]
        schemas = self.index.schemas(c.skill_id for c in order)
        hops: list[_Hop] = []
        checked = 0
        for candidate in order:
            loaded = schemas.get(candidate.skill_id)
            if loaded is None:
                continue
            checked += 1
            verdicts = fit(loaded)
            if all(v.compatible for v in verdicts):
                score = relevance.get(candidate.skill_id, 0.0)
                hops.append(_Hop(candidate, loaded, tuple(verdicts), score))
                if len(hops) >= keep:
                    break
        return hops, checked

    @staticmethod
    def _fit_both(spec: Spec) -> Fit:
        def fit(skill: SkillSchemas) -> list[Verdict]:
            verdict = check_compact(spec.input, skill.input)
            if not verdict.compatible:
                return [verdict]
            return [verdict, check_compact(skill.output, spec.output)]

        return fit

    # -- single skills ------------------------------------------------------------------------

    def matches(self, spec: Spec, *, limit: int, proven_only: bool) -> MatchList:
        """The skills that alone take the request's input and give its output, best first."""
        with self.db.read() as conn:
            found, truncated = self.index.candidates(
                conn,
                max_price=spec.max_price_cents,
                input_from=spec.producer,
                output_to=spec.consumer,
                limit=PREFILTER_CAP,
            )
        relevance = self.catalog.relevance(spec.text)
        hops, checked = self._hops(found, relevance, spec, self._fit_both(spec), CHECK_CAP)
        rated = self._ratings([h.skill_id for h in hops])
        scored = []
        for hop in hops:
            proven = all(v.proven for v in hop.verdicts)
            if proven_only and not proven:
                continue
            score = ranking.match_score(
                hop.relevance,
                hop.price,
                spec.max_price_cents,
                proven,
                rated.get(hop.skill_id, ranking.UNRATED),
            )
            scored.append((score, hop, proven))
        scored.sort(key=lambda s: (-s[0], s[1].price, s[1].skill_id))
        top = scored[:limit]
        summaries = self.catalog.summaries(hop.skill_id for _, hop, _ in top)
        items = [
            SkillMatch(
                skill=summaries[hop.skill_id],
                score=score,
                relevance=round(hop.relevance, 6),
                proven=proven,
                input=_maps(hop.verdicts[0]),
                output=_maps(hop.verdicts[1]),
                caveats=_caveats("input", hop.verdicts[0]) + _caveats("output", hop.verdicts[1]),
            )
            for score, hop, proven in top
            if hop.skill_id in summaries
        ]
        return MatchList(
            request_id=spec.id,
            items=items,
            candidates_checked=checked,
            truncated=truncated or len(found) > CHECK_CAP,
        )

    # -- chains -------------------------------------------------------------------------------

    def compositions(self, spec: Spec, *, limit: int, proven_only: bool) -> CompositionList:
        """Chains of two or three skills from the request's input to its output, best first."""
        relevance = self.catalog.relevance(spec.text)
        budget = spec.max_price_cents
        with self.db.read() as conn:
            first, cut1 = self.index.candidates(
                conn, max_price=budget, input_from=spec.producer, limit=HOP_PREFILTER_CAP
            )
            last, cut2 = self.index.candidates(
                conn, max_price=budget, output_to=spec.consumer, limit=HOP_PREFILTER_CAP
            )
        heads, n1 = self._hops(
            first, relevance, spec, lambda s: [check_compact(spec.input, s.input)], HOP_CAP
        )
        tails, n2 = self._hops(
            last, relevance, spec, lambda s: [check_compact(s.output, spec.output)], HOP_CAP
        )
        # A skill that alone does the job makes any chain through it pointless.
        direct = {h.skill_id for h in heads if self._fits(h.schemas, spec.output)}
        direct |= {t.skill_id for t in tails if self._takes(spec, t.schemas)}
        heads = [h for h in heads if h.skill_id not in direct]
        tails = [t for t in tails if t.skill_id not in direct]
        chains: list[tuple[list[_Hop], list[Verdict]]] = []
        linked: set[tuple[str, str]] = set()
        for head in heads:
            for tail in tails:
                hand_off = self._link(head, tail, budget)
                if hand_off is not None:
                    linked.add((head.skill_id, tail.skill_id))
                    chains.append(([head, tail], [head.verdicts[0], hand_off]))
        middles, cut3, n3 = self._middles(spec, heads, tails, relevance)
        for middle, ins, outs in middles:
            for head, into_middle in ins:
                for tail, into_tail in outs:
                    hops = [head, middle, tail]
                    if (head.skill_id, tail.skill_id) in linked or head.skill_id == tail.skill_id:
                        continue  # the two ends already connect without the middle
                    if sum(h.price for h in hops) <= budget:
                        chains.append((hops, [head.verdicts[0], into_middle, into_tail]))
        checked = n1 + n2 + n3
        return self._ranked(spec, chains, limit, proven_only, checked, cut1 or cut2 or cut3)

    @staticmethod
    def _fits(skill: SkillSchemas, wanted: Any) -> bool:
        return check_compact(skill.output, wanted).compatible

    @staticmethod
    def _takes(spec: Spec, skill: SkillSchemas) -> bool:
        return may_fit(spec.producer, skill.accepts) and (
            check_compact(spec.input, skill.input).compatible
        )

    @staticmethod
    def _link(head: _Hop, tail: _Hop, budget: int) -> Verdict | None:
        """The hand-off from ``head`` into ``tail`` when both fit in ``budget`` and it fits."""
        if head.skill_id == tail.skill_id or head.price + tail.price > budget:
            return None
        if not may_fit(head.schemas.produces, tail.schemas.accepts):
            return None
        verdict = check_compact(head.schemas.output, tail.schemas.input)
        return verdict if verdict.compatible else None

    def _middles(
        self, spec: Spec, heads: list[_Hop], tails: list[_Hop], relevance: dict[str, float]
    ) -> tuple[
        list[tuple[_Hop, list[tuple[_Hop, Verdict]], list[tuple[_Hop, Verdict]]]], bool, int
    ]:
        """Middle skills, each with the heads that feed it and the tails it feeds."""
        if not heads or not tails:
            return [], False, 0
        budget = spec.max_price_cents - min(h.price for h in heads) - min(t.price for t in tails)
        if budget < 0:
            return [], False, 0
        with self.db.read() as conn:
            found, cut = self.index.candidates(
                conn,
                max_price=budget,
                input_from=_union_producer([h.schemas.produces for h in heads]),
                any_input=True,
                output_to=_union_consumer([t.schemas.accepts for t in tails]),
                exclude=[h.skill_id for h in (*heads, *tails)],
                limit=HOP_PREFILTER_CAP,
            )
        candidates, checked = self._hops(found, relevance, spec, lambda s: [], MIDDLE_CHECK_CAP)
        out = []
        for middle in candidates:
            # Heads and tails are best first: the first few links are the ones a chain uses.
            outs = self._links(((middle, t) for t in tails), spec.max_price_cents)
            ins = self._links(((h, middle) for h in heads), spec.max_price_cents) if outs else []
            if ins and outs:
                out.append((middle, [(h, v) for (h, _), v in ins], [(t, v) for (_, t), v in outs]))
                if len(out) >= MIDDLE_CAP:
                    break
        return out, cut or len(found) > MIDDLE_CHECK_CAP, checked

    def _links(self, pairs, budget: int) -> list[tuple[tuple[_Hop, _Hop], Verdict]]:
        """The first :data:`PER_MIDDLE` pairs that link, with their hand-off verdicts."""
        found = []
        for head, tail in pairs:
            verdict = self._link(head, tail, budget)
            if verdict is not None:
                found.append(((head, tail), verdict))
                if len(found) >= PER_MIDDLE:
                    break
        return found

    def _ranked(
        self,
        spec: Spec,
        chains: list[tuple[list[_Hop], list[Verdict]]],
        limit: int,
        proven_only: bool,
        checked: int,
        truncated: bool,
    ) -> CompositionList:
        rated = self._ratings(list({h.skill_id for hops, _ in chains for h in hops}))
        scored = []
        for hops, hand_offs in chains:
            out = check_compact(hops[-1].schemas.output, spec.output)
            proven = all(v.proven for v in hand_offs) and out.proven
            if proven_only and not proven:
                continue
            total = sum(h.price for h in hops)
            score = ranking.chain_score(
                [h.relevance for h in hops],
                total,
                spec.max_price_cents,
                proven,
                [rated.get(h.skill_id, ranking.UNRATED) for h in hops],
            )
            scored.append((score, total, hops, hand_offs, out, proven))
        scored.sort(key=lambda s: (-s[0], s[1], [h.skill_id for h in s[2]]))
        top = scored[:limit]
        summaries = self.catalog.summaries(h.skill_id for s in top for h in s[2])
        items = []
        for score, total, hops, hand_offs, out, proven in top:
            if any(h.skill_id not in summaries for h in hops):
                continue
            caveats = [c for i, v in enumerate(hand_offs) for c in _caveats(f"step {i + 1}", v)]
            items.append(
                Composition(
                    steps=[
                        CompositionStep(skill=summaries[h.skill_id], input=_maps(v))
                        for h, v in zip(hops, hand_offs, strict=True)
                    ],
                    output=_maps(out),
                    total_price_cents=total,
                    score=score,
                    proven=proven,
                    caveats=caveats + _caveats("output", out),
                )
            )
        return CompositionList(
            request_id=spec.id, items=items, candidates_checked=checked, truncated=truncated
        )


def _union_producer(shapes: list[Shape]) -> Shape | None:
    """What any of several producers may give (None when one of them is unknown)."""
    if any(s.types == 0 for s in shapes):
        return None
    types = 0
    for shape in shapes:
        types |= shape.types
    return Shape(types, frozenset().union(*(s.names for s in shapes)))


def _union_consumer(shapes: list[Shape]) -> Shape:
    """What any of several consumers takes: their types, and the names all of them require."""
    types = 0
    for shape in shapes:
        types |= shape.types
    takers = [s.names for s in shapes if s.types & OBJECT]
    return Shape(types, frozenset.intersection(*takers) if takers else frozenset())
