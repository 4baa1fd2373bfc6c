"""The red-flag rules: which indicators a tender's award raises, with the numbers behind each.

Every figure is computed in SQL over the OCDS shape of the data (`ocds`), for any number of tenders
in a constant number of statements: the tenders' own figures, the quartile fences (over all awarded
tenders), disqualification ratios of departments and bidders, identical prices, and bidders taking
turns. Python only compares those figures with the thresholds.

Cardinal indicators that our data cannot raise are left out (README "Red flags"): R025 and R048 need
many awards per bidder and item classifications we do not have, R030 (late bid won) cannot happen (a
late bid is refused, SPEC §4.2), R044 and R055 are unreleased.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import Float, and_, case, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from core.auth import Actor
from core.settings import Settings, get_settings
from disclosure.red_flags import ocds
from disclosure.red_flags.access import red_flags_visible_clause
from market.models import Bid, BidStatus, Tender, TenderStatus


class RedFlagCode(enum.Enum):
    R003 = "R003"
    R018 = "R018"
    R024 = "R024"
    R028 = "R028"
    R035 = "R035"
    R036 = "R036"
    R038 = "R038"
    R058 = "R058"
    NEAR_CEILING = "NEAR_CEILING"
    WIN_ROTATION = "WIN_ROTATION"


TITLES = {
    RedFlagCode.R003: "Short submission period",
    RedFlagCode.R018: "Single valid bid",
    RedFlagCode.R024: "Price close to winning bid",
    RedFlagCode.R028: "Identical bid prices",
    RedFlagCode.R035: "All except winning bid disqualified",
    RedFlagCode.R036: "Lowest bid disqualified",
    RedFlagCode.R038: "Excessive disqualified bids",
    RedFlagCode.R058: "Heavily discounted bid",
    RedFlagCode.NEAR_CEILING: "Winning price near the ceiling",
    RedFlagCode.WIN_ROTATION: "Bidders taking turns to win",
}


class Scope(enum.Enum):
    """What the flag is about, as Cardinal groups its results."""

    PROCESS = "PROCESS"  # the tender itself (Cardinal: OCID)
    BUYER = "BUYER"  # the purchasing department's record (Cardinal: Buyer, ProcuringEntity)
    TENDERER = "TENDERER"  # a bidder's record (Cardinal: Tenderer)


class Comparison(enum.Enum):
    """How the flag's value met its threshold."""

    BELOW = "BELOW"  # value < threshold
    AT_MOST = "AT_MOST"  # value ≤ threshold
    AT_LEAST = "AT_LEAST"  # value ≥ threshold


class Unit(enum.Enum):
    CNY = "CNY"  # a unit price, 2 decimals
    RATIO = "RATIO"  # a proportion or relative difference, 4 decimals
    COUNT = "COUNT"
    DAYS = "DAYS"


@dataclass(frozen=True)
class Figure:
    """One number behind a flag, e.g. ("winningBid", CNY, 96.50)."""

    name: str
    unit: Unit
    value: Decimal | float | int

    @property
    def text(self) -> str:
        return _text(self.unit, self.value)


@dataclass(frozen=True)
class RedFlag:
    code: RedFlagCode
    scope: Scope
    unit: Unit
    value: Decimal | float | int
    comparison: Comparison
    threshold: Decimal | float | int
    figures: tuple[Figure, ...] = ()
    provider_ids: tuple[int, ...] = ()
    """The bidders the flag names (Cardinal's flagged tenderers), in ascending id."""

    @property
    def title(self) -> str:
        return TITLES[self.code]

    @property
    def value_text(self) -> str:
        return _text(self.unit, self.value)

    @property
    def threshold_text(self) -> str:
        return _text(self.unit, self.threshold)


def _text(unit: Unit, value) -> str:
    if unit == Unit.CNY:
        return str(Decimal(value).quantize(Decimal("0.01")))
    if unit == Unit.RATIO:
        return f"{float(value):.4f}"
    if unit == Unit.DAYS:
        return str(int(value))  # whole days, as Cardinal counts them
    return str(int(value))


@dataclass(frozen=True)
class Thresholds:
    """The thresholds of the rules (settings `RED_FLAG_*`, README "Red flags")."""

    r003_min_days: int = 15
    r024_threshold: float | None = None
    r058_threshold: float | None = None
    r035_min_disqualified: int = 1
    r038_threshold: float | None = None
    r038_min_bids: int = 2
    r038_min_tenders: int = 2
    min_sample: int = 5
    ceiling_share: float = 0.95
    rotation_min_tenders: int = 3

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Thresholds:
        settings = settings or get_settings()
        return cls(
            r003_min_days=settings.red_flag_r003_min_days,
            r024_threshold=settings.red_flag_r024_threshold,
            r058_threshold=settings.red_flag_r058_threshold,
            r035_min_disqualified=settings.red_flag_r035_min_disqualified,
            r038_threshold=settings.red_flag_r038_threshold,
            r038_min_bids=settings.red_flag_r038_min_bids,
            r038_min_tenders=settings.red_flag_r038_min_tenders,
            min_sample=settings.red_flag_min_sample,
            ceiling_share=settings.red_flag_ceiling_share,
            rotation_min_tenders=settings.red_flag_rotation_min_tenders,
        )


@dataclass
class _Fences:
    """Quartile fences of the outlier rules, from the awarded tenders (None: not enough values)."""

    r024: float | None = None
    r058: float | None = None
    r038_buyer: float | None = None
    r038_tenderer: float | None = None
    figures: dict[str, tuple[Figure, ...]] = field(default_factory=dict)


async def flags_for_tenders(
    session: AsyncSession,
    tender_ids: Sequence[int],
    *,
    actor: Actor | None = None,
    thresholds: Thresholds | None = None,
) -> dict[int, list[RedFlag]]:
    """The red flags of each tender the caller may see them on (`access`), in a constant number of
    statements; tenders whose flags the caller may not see yet are absent. Without `actor` (the
    public, the award notice page): awarded tenders only."""
    thresholds = thresholds or Thresholds.from_settings()
    ids = list(dict.fromkeys(tender_ids))
    if not ids:
        return {}
    rows = (
        await session.execute(ocds.processes(and_(Tender.id.in_(ids), red_flags_visible_clause(actor))))
    ).all()
    if not rows:
        return {}
    visible = [row.ocid for row in rows]
    flags: dict[int, list[RedFlag]] = {row.ocid: [] for row in rows}
    fences = await _fences(session, thresholds)
    for row in rows:
        flags[row.ocid].extend(_process_flags(row, thresholds, fences))
    for tender_id, flag in await _identical_prices(session, visible):
        flags[tender_id].append(flag)
    for tender_id, flag in await _disqualification_records(session, visible, thresholds, fences):
        flags[tender_id].append(flag)
    for tender_id, flag in await _rotations(session, visible, thresholds):
        flags[tender_id].append(flag)
    order = list(RedFlagCode)
    return {
        tender_id: sorted(found, key=lambda f: (order.index(f.code), f.scope.value, f.provider_ids))
        for tender_id, found in flags.items()
    }


# ---------------------------------------------------------------- fences


async def _fences(session: AsyncSession, thresholds: Thresholds) -> _Fences:
    fences = _Fences()
    awarded = Tender.status == TenderStatus.AWARDED
    if thresholds.r024_threshold is None or thresholds.r058_threshold is None:
        population = ocds.processes(awarded).subquery("awarded_processes")
        ratios = select(population.c.second_lowest_ratio.label("value")).where(
            population.c.second_lowest_ratio.is_not(None)
        )
        q = await ocds.quartiles(session, ratios)
        if q is not None and q.n >= thresholds.min_sample:
            fences.figures["ratio"] = _quartile_figures(q)
            # Cardinal's guards: the ratios are never negative; a fence at 0 would flag most tenders.
            if q.q1 > 0 and q.lower_fence > 0:
                fences.r024 = q.lower_fence
            if q.upper_fence > 0:
                fences.r058 = q.upper_fence
    if thresholds.r024_threshold is not None:
        fences.r024 = thresholds.r024_threshold
    if thresholds.r058_threshold is not None:
        fences.r058 = thresholds.r058_threshold
    if thresholds.r038_threshold is not None:
        fences.r038_buyer = fences.r038_tenderer = thresholds.r038_threshold
        return fences
    for kind in ("buyer", "tenderer"):
        records = _disqualification_ratios(kind, thresholds).subquery("records")
        q = await ocds.quartiles(session, select(records.c.value))
        if q is not None and q.n >= thresholds.min_sample and q.upper_fence > 0:
            setattr(fences, f"r038_{kind}", q.upper_fence)
            fences.figures[kind] = _quartile_figures(q)
    return fences


def _quartile_figures(q: ocds.Quartiles) -> tuple[Figure, ...]:
    return (
        Figure("q1", Unit.RATIO, q.q1),
        Figure("q3", Unit.RATIO, q.q3),
        Figure("awardedTendersCompared", Unit.COUNT, q.n),
    )


# ---------------------------------------------------------------- the tender's own figures


def _process_flags(row, t: Thresholds, fences: _Fences) -> list[RedFlag]:
    flags = []
    winner = () if row.supplier_id is None else (row.supplier_id,)
    if row.published_at is not None and row.period_days < t.r003_min_days:
        days = int(row.period_days)
        flags.append(
            RedFlag(
                RedFlagCode.R003,
                Scope.PROCESS,
                Unit.DAYS,
                days,
                Comparison.BELOW,
                t.r003_min_days,
                figures=(Figure("submissionPeriodDays", Unit.DAYS, days),),
            )
        )
    if row.valid == 1:
        flags.append(
            RedFlag(
                RedFlagCode.R018,
                Scope.PROCESS,
                Unit.COUNT,
                row.valid,
                Comparison.AT_MOST,
                1,
                figures=(
                    Figure("submittedBids", Unit.COUNT, row.submitted),
                    Figure("validBids", Unit.COUNT, row.valid),
                ),
                provider_ids=winner,
            )
        )
    if row.supplier_id is None:
        return flags  # the rules below read the award
    winning = Figure("winningBid", Unit.CNY, row.winning_amount)
    if row.second_lowest_ratio is not None:
        ratio = row.second_lowest_ratio
        figures = (
            winning,
            Figure("secondLowestValidBid", Unit.CNY, row.second_lowest),
            *fences.figures.get("ratio", ()),
        )
        if fences.r024 is not None and ratio <= fences.r024:
            flags.append(
                RedFlag(
                    RedFlagCode.R024,
                    Scope.PROCESS,
                    Unit.RATIO,
                    ratio,
                    Comparison.AT_MOST,
                    fences.r024,
                    figures=figures,
                    provider_ids=winner,
                )
            )
        if fences.r058 is not None and ratio >= fences.r058:
            flags.append(
                RedFlag(
                    RedFlagCode.R058,
                    Scope.PROCESS,
                    Unit.RATIO,
                    ratio,
                    Comparison.AT_LEAST,
                    fences.r058,
                    figures=figures,
                    provider_ids=winner,
                )
            )
    if row.valid == 1 and row.others_disqualified >= t.r035_min_disqualified:
        flags.append(
            RedFlag(
                RedFlagCode.R035,
                Scope.PROCESS,
                Unit.COUNT,
                row.others_disqualified,
                Comparison.AT_LEAST,
                t.r035_min_disqualified,
                figures=(
                    Figure("validBids", Unit.COUNT, row.valid),
                    Figure("otherBiddersDisqualified", Unit.COUNT, row.others_disqualified),
                ),
                provider_ids=winner,
            )
        )
    lowest_valid, lowest_disqualified = row.lowest_valid, row.lowest_disqualified
    if lowest_valid is not None and lowest_disqualified is not None and lowest_disqualified < lowest_valid:
        flags.append(
            RedFlag(
                RedFlagCode.R036,
                Scope.PROCESS,
                Unit.CNY,
                lowest_disqualified,
                Comparison.BELOW,
                lowest_valid,
                figures=(
                    Figure("lowestDisqualifiedBid", Unit.CNY, lowest_disqualified),
                    Figure("lowestValidBid", Unit.CNY, lowest_valid),
                ),
            )
        )
    if row.ceiling_share >= t.ceiling_share:
        flags.append(
            RedFlag(
                RedFlagCode.NEAR_CEILING,
                Scope.PROCESS,
                Unit.RATIO,
                row.ceiling_share,
                Comparison.AT_LEAST,
                t.ceiling_share,
                figures=(winning, Figure("maxUnitPrice", Unit.CNY, row.max_unit_price)),
                provider_ids=winner,
            )
        )
    return flags


# ---------------------------------------------------------------- R028 identical prices


async def _identical_prices(session: AsyncSession, tender_ids: list[int]) -> list[tuple[int, RedFlag]]:
    """R028: bids of different bidders at the same price; one flag per price, naming them."""
    other = aliased(Bid, name="same_price_bid")
    same_price = (
        select(other.id)
        .where(
            other.tender_id == Bid.tender_id,
            other.unit_price == Bid.unit_price,
            other.provider_id != Bid.provider_id,
            other.status.in_(ocds.SUBMITTED),
        )
        .exists()
    )
    rows = (
        await session.execute(
            select(Bid.tender_id, Bid.unit_price, Bid.provider_id)
            .where(Bid.tender_id.in_(tender_ids), Bid.status.in_(ocds.SUBMITTED), same_price)
            .order_by(Bid.tender_id, Bid.unit_price, Bid.provider_id)
        )
    ).all()
    groups: dict[tuple[int, Decimal], list[int]] = {}
    for tender_id, price, provider_id in rows:
        groups.setdefault((tender_id, price), []).append(provider_id)
    return [
        (
            tender_id,
            RedFlag(
                RedFlagCode.R028,
                Scope.PROCESS,
                Unit.COUNT,
                len(providers),
                Comparison.AT_LEAST,
                2,
                figures=(
                    Figure("price", Unit.CNY, price),
                    Figure("biddersAtThisPrice", Unit.COUNT, len(providers)),
                ),
                provider_ids=tuple(providers),
            ),
        )
        for (tender_id, price), providers in groups.items()
    ]


# ---------------------------------------------------------------- R038 disqualification records


def _disqualification_ratios(kind: str, t: Thresholds):
    """Disqualified / submitted bids per department ("buyer") or bidder ("tenderer"), over the bids of
    awarded tenders, for those with enough of them to compare (Cardinal's minimums)."""
    organisation = Tender.department_id if kind == "buyer" else Bid.provider_id
    tenders = func.count(func.distinct(Bid.tender_id))
    submitted = func.count(Bid.id)
    disqualified = func.count(case((Bid.status == BidStatus.INVALID, Bid.id)))
    minimum = tenders >= t.r038_min_tenders if kind == "buyer" else submitted >= t.r038_min_bids
    return (
        select(
            organisation.label("organisation"),
            tenders.label("tenders"),
            submitted.label("submitted"),
            disqualified.label("disqualified"),
            (cast(disqualified, Float) / cast(submitted, Float)).label("value"),
        )
        .join(Tender, Tender.id == Bid.tender_id)
        .where(Tender.status == TenderStatus.AWARDED, Bid.status.in_(ocds.SUBMITTED))
        .group_by(organisation)
        .having(minimum)
    )


async def _disqualification_records(
    session: AsyncSession, tender_ids: list[int], t: Thresholds, fences: _Fences
) -> list[tuple[int, RedFlag]]:
    """R038 on a tender: its department's record, and each of its bidders' (one statement each)."""
    found = []
    if fences.r038_buyer is not None:
        records = _disqualification_ratios("buyer", t).subquery("buyer_records")
        rows = await session.execute(
            select(Tender.id, records)
            .join(records, records.c.organisation == Tender.department_id)
            .where(Tender.id.in_(tender_ids), records.c.value >= fences.r038_buyer)
        )
        found += [(row.id, _r038(Scope.BUYER, row, fences.r038_buyer, fences, ())) for row in rows]
    if fences.r038_tenderer is not None:
        records = _disqualification_ratios("tenderer", t).subquery("tenderer_records")
        rows = await session.execute(
            select(Bid.tender_id, records)
            .join(records, records.c.organisation == Bid.provider_id)
            .where(
                Bid.tender_id.in_(tender_ids),
                Bid.status.in_(ocds.SUBMITTED),
                records.c.value >= fences.r038_tenderer,
            )
        )
        found += [
            (row.tender_id, _r038(Scope.TENDERER, row, fences.r038_tenderer, fences, (row.organisation,)))
            for row in rows
        ]
    return found


def _r038(scope: Scope, row, fence: float, fences: _Fences, providers: tuple[int, ...]) -> RedFlag:
    quartile_figures = fences.figures.get("buyer" if scope == Scope.BUYER else "tenderer", ())
    return RedFlag(
        RedFlagCode.R038,
        scope,
        Unit.RATIO,
        row.value,
        Comparison.AT_LEAST,
        fence,
        figures=(
            Figure("submittedBids", Unit.COUNT, row.submitted),
            Figure("disqualifiedBids", Unit.COUNT, row.disqualified),
            Figure("awardedTenders", Unit.COUNT, row.tenders),
            *quartile_figures,
        ),
        provider_ids=providers,
    )


# ---------------------------------------------------------------- bidders taking turns


async def _rotations(
    session: AsyncSession, tender_ids: list[int], t: Thresholds
) -> list[tuple[int, RedFlag]]:
    """WIN_ROTATION: the winner and another bidder of the tender bid together on at least
    `rotation_min_tenders` tenders of the same department (awarded ones, and this one), and each of the
    two won at least one of them: they may be taking turns.
    """
    award = ocds.awards("tender_award")
    other_bidder = aliased(Bid, name="other_bidder")
    pairs = (
        select(
            Tender.id.label("tender_id"),
            Tender.department_id,
            award.c.supplier_id.label("winner"),
            other_bidder.provider_id.label("partner"),
        )
        .join(award, award.c.ocid == Tender.id)
        .join(other_bidder, other_bidder.tender_id == Tender.id)
        .where(
            Tender.id.in_(tender_ids),
            other_bidder.status.in_(ocds.SUBMITTED),
            other_bidder.provider_id != award.c.supplier_id,
        )
        .subquery("pairs")
    )
    winner_bid, partner_bid = aliased(Bid, name="winner_bid"), aliased(Bid, name="partner_bid")
    shared = aliased(Tender, name="shared_tender")
    shared_award = ocds.awards("shared_award")
    won_by_winner = func.count(case((shared_award.c.supplier_id == pairs.c.winner, shared.id)))
    won_by_partner = func.count(case((shared_award.c.supplier_id == pairs.c.partner, shared.id)))
    together = func.count(shared.id)
    rows = await session.execute(
        select(
            pairs.c.tender_id,
            pairs.c.winner,
            pairs.c.partner,
            together.label("together"),
            won_by_winner.label("winner_wins"),
            won_by_partner.label("partner_wins"),
        )
        .join(
            shared,
            and_(
                shared.department_id == pairs.c.department_id,
                (shared.status == TenderStatus.AWARDED) | (shared.id == pairs.c.tender_id),
            ),
        )
        .join(shared_award, shared_award.c.ocid == shared.id)
        .join(
            winner_bid,
            and_(
                winner_bid.tender_id == shared.id,
                winner_bid.provider_id == pairs.c.winner,
                winner_bid.status.in_(ocds.SUBMITTED),
            ),
        )
        .join(
            partner_bid,
            and_(
                partner_bid.tender_id == shared.id,
                partner_bid.provider_id == pairs.c.partner,
                partner_bid.status.in_(ocds.SUBMITTED),
            ),
        )
        .group_by(pairs.c.tender_id, pairs.c.winner, pairs.c.partner)
        .having(together >= t.rotation_min_tenders, won_by_winner >= 1, won_by_partner >= 1)
        .order_by(pairs.c.tender_id, pairs.c.partner)
    )
    return [
        (
            row.tender_id,
            RedFlag(
                RedFlagCode.WIN_ROTATION,
                Scope.PROCESS,
                Unit.COUNT,
                row.together,
                Comparison.AT_LEAST,
                t.rotation_min_tenders,
                figures=(
                    Figure("tendersBidTogether", Unit.COUNT, row.together),
                    Figure("wonByWinner", Unit.COUNT, row.winner_wins),
                    Figure("wonByOtherBidder", Unit.COUNT, row.partner_wins),
                ),
                provider_ids=tuple(sorted((row.winner, row.partner))),
            ),
        )
        for row in rows
    ]
