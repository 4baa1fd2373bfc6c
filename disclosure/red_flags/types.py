"""GraphQL side of the red flags: `Tender.redFlags` (a lazy field of the market's Tender type)."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from core.api import ContextLoader, context_of
from disclosure.red_flags import service
from market import loaders as market_loaders
from market.types import Provider

RedFlagCodeType = strawberry.enum(
    service.RedFlagCode,
    name="RedFlagCode",
    description="A red-flag indicator. Cardinal's (Open Contracting Partnership): R003 short submission "
    "period, R018 single valid bid, R024 price close to winning bid, R028 identical bid prices, R035 all "
    "except winning bid disqualified, R036 lowest bid disqualified, R038 excessive disqualified bids, R058 "
    "heavily discounted bid. The platform's own: NEAR_CEILING winning price near the maximum unit price, "
    "WIN_ROTATION bidders taking turns to win a department's tenders.",
)
RedFlagScopeType = strawberry.enum(
    service.Scope,
    name="RedFlagScope",
    description="What a flag is about: PROCESS the tender itself, BUYER the purchasing department's record "
    "over its awarded tenders, TENDERER a bidder's record over the awarded tenders it bid on.",
)
RedFlagComparisonType = strawberry.enum(
    service.Comparison,
    name="RedFlagComparison",
    description="How the value met the threshold: BELOW (<), AT_MOST (≤) or AT_LEAST (≥).",
)
RedFlagUnitType = strawberry.enum(
    service.Unit,
    name="RedFlagUnit",
    description="CNY a unit price (2 decimals), RATIO a proportion or relative difference (4 decimals), "
    "COUNT a number of bids, bidders or tenders, DAYS whole days.",
)


@strawberry.type(description="One number behind a red flag.")
class RedFlagFigure:
    name: str = strawberry.field(
        description="What the number is, e.g. winningBid, secondLowestValidBid, q1, q3, submittedBids."
    )
    unit: RedFlagUnitType
    value: str = strawberry.field(description="A plain decimal, written as its unit says.")

    @classmethod
    def from_figure(cls, figure: service.Figure) -> RedFlagFigure:
        return cls(name=figure.name, unit=figure.unit, value=figure.text)


@strawberry.type(
    description="A red flag on a tender's award: an indicator whose value met its threshold. A prompt to "
    "look closer, not a finding."
)
class RedFlag:
    code: RedFlagCodeType
    title: str = strawberry.field(description="The indicator's name, in English.")
    scope: RedFlagScopeType
    unit: RedFlagUnitType = strawberry.field(description="The unit of `value` and `threshold`.")
    value: str = strawberry.field(description="The indicator's value for this tender (or organisation).")
    comparison: RedFlagComparisonType
    threshold: str = strawberry.field(
        description="What the value was compared with: a setting, or a quartile fence over the awarded "
        "tenders (README, Red flags)."
    )
    figures: list[RedFlagFigure] = strawberry.field(description="The numbers the value is computed from.")
    provider_ids: strawberry.Private[tuple[int, ...]]

    @strawberry.field(description="The bidders the flag names (e.g. the winner, the bidders at one price).")
    async def providers(self, info: Info) -> list[Provider]:
        rows = (
            await context_of(info)
            .loader(market_loaders.VisibleProviderByIdLoader)
            .load_many(list(self.provider_ids))
        )
        return [Provider.from_row(row) for row in rows if row is not None]

    @classmethod
    def from_flag(cls, flag: service.RedFlag) -> RedFlag:
        return cls(
            code=flag.code,
            title=flag.title,
            scope=flag.scope,
            unit=flag.unit,
            value=flag.value_text,
            comparison=flag.comparison,
            threshold=flag.threshold_text,
            figures=[RedFlagFigure.from_figure(f) for f in flag.figures],
            provider_ids=flag.provider_ids,
        )


class RedFlagsByTenderLoader(ContextLoader):
    """Each tender's red flags, or None while the caller may not see them (`access`)."""

    async def load_batch(self, session, keys):
        flags = await service.flags_for_tenders(
            session,
            keys,
            actor=self.ctx.actor,
            thresholds=service.Thresholds.from_settings(self.ctx.settings),
        )
        return [flags.get(key) for key in keys]


async def red_flags_of_tender(info: Info, tender_id: int) -> list[RedFlag] | None:
    """`Tender.redFlags`, batched over a page of tenders."""
    flags = await context_of(info).loader(RedFlagsByTenderLoader).load(tender_id)
    return None if flags is None else [RedFlag.from_flag(flag) for flag in flags]
