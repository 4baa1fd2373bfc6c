"""A contract in delivery, made through the whole purchase (tests/market/world.py)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from contracts import deliveries, lifecycle, outbox
from contracts.models import Contract
from core import clock
from core.auth import Actor, Role
from market import accounts, awards
from tests import factories
from tests.market import world as w

PHONE = "13812345678"


@dataclass
class ContractWorld:
    market: w.World
    contract: Contract
    provider: Actor  # the contracted provider's account
    other_provider: Actor  # a losing bidder's account
    auditor: Actor
    other_auditor: Actor
    users: dict

    @property
    def session(self):
        return self.market.session

    @property
    def officer(self) -> Actor:
        return self.market.officer

    async def advance(self, seconds: float) -> None:
        await self.market.advance(seconds)

    async def now(self) -> dt.datetime:
        return await clock.now(self.session)

    async def today(self) -> dt.date:
        return clock.today(await self.now())

    async def deliver(self, *, on: dt.date | None = None, units: int = 1, phone: str = PHONE):
        """A delivery recorded by the provider; returns (delivery, link token)."""
        recorded = await deliveries.record_delivery(
            session=self.session, actor=self.provider, contract_id=self.contract.id,
            delivered_on=on or await self.today(), units=units, resident_phone=phone,
        )  # fmt: skip
        token = link_token(recorded.notification)
        await self.session.commit()
        return recorded.delivery, token


def link_token(notification) -> str:
    """The token of the link in a pending message, as the resident's phone receives it."""
    return outbox.unseal(notification).body.split("/r/")[1].split(" ")[0]


async def build(session, *, start_in_days: int = 0) -> ContractWorld:
    """An ACTIVE contract with an audit firm assigned; the clock `start_in_days` into its term."""
    world = await w.build(session)
    tender = await world.opened(["100.00", "98.00", "96.00"])
    await world.declare_all(tender)
    await world.score_all(tender, {0: [90, 90, 90], 1: [70, 70, 70], 2: [60, 60, 60]})
    await awards.recommend_award(session=session, actor=world.officer, tender_id=tender.id)
    await world.past_challenge(tender)
    contract = await lifecycle.finalize_award(session=session, actor=world.officer, tender_id=tender.id)
    firm = await factories.audit_firm(session)
    other_firm = await factories.audit_firm(session)
    await lifecycle.assign_audit_firm(
        session=session, actor=world.officer, contract_id=contract.id, audit_firm_id=firm.id
    )
    auditor = await factories.user(session, Role.AUDITOR, audit_firm_id=firm.id)
    other_auditor = await factories.user(session, Role.AUDITOR, audit_firm_id=other_firm.id)
    # The contract starts on the tender's start date (2030-01-01): move the clock into its term.
    start = dt.datetime.combine(contract.start_date, dt.time(9), tzinfo=clock.get_settings().zone)
    target = start + dt.timedelta(days=start_in_days)
    now = await clock.now(session)
    if target > now:
        await world.advance((target - now).total_seconds())
    await session.commit()
    winner = next(i for i, p in enumerate(world.providers) if p.id == contract.provider_id)
    loser = next(i for i, p in enumerate(world.providers) if p.id != contract.provider_id)
    return ContractWorld(
        market=world,
        contract=contract,
        provider=world.bidders[winner],
        other_provider=world.bidders[loser],
        auditor=accounts.actor_of(auditor),
        other_auditor=accounts.actor_of(other_auditor),
        users=world.users
        | {
            "provider": world.users[f"bidder{winner}"],
            "other_provider": world.users[f"bidder{loser}"],
            "auditor": auditor,
            "other_auditor": other_auditor,
        },
    )
