"""Each visibility rule of `market.access` is one rule: its predicate and its SQL clause agree.

A market with tenders in every stage (a draft, sealed bids, opened bids with a withdrawn one, a
recommendation with challenges, a final award), questions answered and not, providers pending and
active; then, for every kind of caller, the rows each predicate admits are the rows its clause
selects. Services and by-ID loaders use the predicates, lists use the clauses: were one edited
without the other, a caller would see by one path what another path hides.
"""

from __future__ import annotations

from sqlalchemy import select

from contracts import lifecycle as contracts
from core.auth import Role
from market import access, accounts, awards, bids, challenges, tenders
from market import models as m
from tests import factories
from tests.market import world as w


async def _market(session):
    world = await w.build(session)
    officer = world.officer
    await world.draft(title="draft")
    sealed, opened, pending, awarded = [
        await world.published(title=t) for t in ("sealed", "opened", "pending", "awarded")
    ]
    for tender in (sealed, opened, pending, awarded):
        for bidder, price in enumerate(("100.00", "95.00", "90.00")):
            await world.bid(tender, bidder, price)
    await world.bid(opened, 3, "99.00")
    await bids.withdraw_bid(session=session, actor=world.bidders[3], bid_id=(await world.bids(opened))[-1].id)
    answered = await tenders.ask_clarification(
        session=session, actor=world.bidders[0], tender_id=sealed.id, question="Weekends?"
    )
    await tenders.answer_clarification(
        session=session, actor=officer, clarification_id=answered.id, answer="Yes"
    )
    await tenders.ask_clarification(
        session=session, actor=world.bidders[1], tender_id=sealed.id, question="Nights?"
    )
    await tenders.ask_clarification(
        session=session, actor=world.bidders[2], tender_id=opened.id, question="Holidays?"
    )
    await world.past_deadline(sealed)
    for tender in (opened, pending, awarded):
        await bids.open_bids(session=session, actor=officer, tender_id=tender.id)
    for tender in (pending, awarded):
        await world.declare_all(tender)
        await world.score_all(tender, {0: [80, 80, 80], 1: [85, 85, 85], 2: [70, 70, 70]})
        await awards.recommend_award(session=session, actor=officer, tender_id=tender.id)
    for bidder in (0, 2):
        await challenges.file_challenge(
            session=session, actor=world.bidders[bidder], tender_id=pending.id, reason="Unfair"
        )
    await world.past_challenge(awarded)
    await contracts.finalize_award(session=session, actor=officer, tender_id=awarded.id)

    pending_provider = await factories.provider(session, status=m.ProviderStatus.PENDING)
    pending_staff = await session.scalar(select(m.User).where(m.User.provider_id == pending_provider.id))
    outsider = await factories.user(session, Role.PROVIDER)
    extra = {
        "admin": await factories.user(session, Role.ADMIN),
        "outside_evaluator": await factories.user(session, Role.EVALUATOR),
        "auditor": await factories.user(session, Role.AUDITOR),
        "outsider": outsider,
        "pending_staff": pending_staff,
    }
    await session.flush()
    users = world.users | extra
    callers = {"anonymous": None} | {name: accounts.actor_of(user) for name, user in users.items()}
    return world, callers, users


async def _ids(session, model, clause, among) -> set[int]:
    return set((await session.scalars(select(model.id).where(model.id.in_(among), clause))).all())


async def test_every_predicate_admits_what_its_clause_selects(session):
    world, callers, users = await _market(session)
    tender_rows = (
        await session.scalars(select(m.Tender).where(m.Tender.created_by_id == world.officer.user_id))
    ).all()
    by_id = {t.id: t for t in tender_rows}
    bid_rows = (await session.scalars(select(m.Bid).where(m.Bid.tender_id.in_(by_id)))).all()
    clarification_rows = (
        await session.scalars(select(m.Clarification).where(m.Clarification.tender_id.in_(by_id)))
    ).all()
    challenge_rows = (
        await session.scalars(select(m.Challenge).where(m.Challenge.tender_id.in_(by_id)))
    ).all()
    provider_ids = {p.id for p in world.providers} | {
        users["pending_staff"].provider_id,
        users["outsider"].provider_id,
    }
    provider_rows = (await session.scalars(select(m.Provider).where(m.Provider.id.in_(provider_ids)))).all()
    user_rows = list(users.values())
    assert {t.status for t in tender_rows} == {
        m.TenderStatus.DRAFT, m.TenderStatus.PUBLISHED, m.TenderStatus.EVALUATING,
        m.TenderStatus.AWARD_PENDING, m.TenderStatus.AWARDED,
    }  # fmt: skip

    seen: dict[str, list[int]] = {}  # rule -> how many rows each caller sees

    def agree(rule: str, caller: str, by_predicate: set[int], by_clause: set[int]) -> None:
        assert by_predicate == by_clause, (rule, caller)
        seen.setdefault(rule, []).append(len(by_predicate))

    for caller, actor in callers.items():
        agree(
            "users",
            caller,
            {u.id for u in user_rows if access.can_see_user(actor, u)},
            await _ids(session, m.User, access.users_visible_clause(actor), [u.id for u in user_rows]),
        )
        agree(
            "providers",
            caller,
            {p.id for p in provider_rows if access.can_see_provider(actor, p)},
            await _ids(session, m.Provider, access.providers_visible_clause(actor), provider_ids),
        )
        agree(
            "tender officers",
            caller,
            {t.id for t in tender_rows if access.is_tender_officer(actor, t)},
            await _ids(session, m.Tender, access.tender_officer_clause(actor), by_id),
        )
        agree(
            "tenders",
            caller,
            {t.id for t in tender_rows if access.can_see_tender(actor, t)},
            await _ids(session, m.Tender, access.tender_visible_clause(actor), by_id),
        )
        bid_access = await access.bid_access(session, actor, tender_rows)
        by_predicate, by_clause = set(), set()
        for tender in tender_rows:
            of_tender = [b for b in bid_rows if b.tender_id == tender.id]
            by_predicate |= {b.id for b in of_tender if access.can_see_bid(bid_access[tender.id], b)}
            clause = access.bids_visible_clause(bid_access[tender.id])
            by_clause |= await _ids(session, m.Bid, clause, [b.id for b in of_tender])
        agree("bids", caller, by_predicate, by_clause)
        agree(
            "clarifications",
            caller,
            {c.id for c in clarification_rows if access.can_see_clarification(actor, c, by_id[c.tender_id])},
            await _ids(
                session,
                m.Clarification,
                access.clarifications_visible_clause(actor),
                [c.id for c in clarification_rows],
            ),
        )
        agree(
            "challenges",
            caller,
            {c.id for c in challenge_rows if access.can_see_challenge(actor, c, by_id[c.tender_id])},
            await _ids(
                session, m.Challenge, access.challenges_visible_clause(actor), [c.id for c in challenge_rows]
            ),
        )

    # Each rule shows some callers less than others, and someone something: none of them is vacuous.
    for rule, counts in seen.items():
        assert min(counts) < max(counts), rule


async def test_the_sealed_bid_rule_in_both_forms(session):
    """Spot checks of what the agreement test compares, by the wording of SPEC §4.2."""
    world, callers, _users = await _market(session)
    rows = (
        await session.scalars(select(m.Tender).where(m.Tender.created_by_id == world.officer.user_id))
    ).all()
    by_title = {t.title: t for t in rows}

    async def visible(caller: str, title: str) -> set[int]:
        tender = by_title[title]
        kind = (await access.bid_access(session, callers[caller], [tender]))[tender.id]
        statement = select(m.Bid.provider_id).where(
            m.Bid.tender_id == tender.id, access.bids_visible_clause(kind)
        )
        return set((await session.scalars(statement)).all())

    providers = [p.id for p in world.providers]
    # Before the opening nobody but the bidding provider reads anything of a bid
    for caller in ("anonymous", "officer", "evaluator0", "admin", "outsider", "auditor"):
        assert await visible(caller, "sealed") == set(), caller
    assert await visible("bidder1", "sealed") == {providers[1]}
    # After it: the tender's officers, its panel and its bidders read the bids (not the withdrawn one)
    for caller in ("officer", "evaluator0", "bidder2"):
        assert await visible(caller, "opened") == set(providers[:3]), caller
    assert await visible("bidder3", "opened") == {providers[3]}  # its own withdrawn bid only
    for caller in ("anonymous", "other_officer", "outside_evaluator", "outsider"):
        assert await visible(caller, "opened") == set(), caller
    # Once the award is final, everyone reads them
    assert await visible("anonymous", "awarded") == set(providers[:3])
