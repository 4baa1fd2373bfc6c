"""Certification through the API: `runCertification` (ADMIN only), the public `certificate(code:)`,
`Provider.certification` without N+1 on a page of providers."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

import app as application
from core import clock
from core.api import encode_id
from core.auth import Role
from market import providers
from scoring import certification
from scoring.models import Certificate
from tests import factories
from tests.factories import ADMIN
from tests.scoring import cert_world as sw

DAY = dt.timedelta(days=1)
RUN = """mutation($d: Date!) { runCertification(asOf: $d) {
  providers { id legalName certification { stars code } } issued revoked unchanged
  errors { code field message } } }"""
CERTIFICATE = """query($code: String!) { certificate(code: $code) {
  code stars rated score issuedOn validUntil periodsCounted ratingsCounted asOf criticalUpheld status
  revokedAt revokedReason verificationUrl
  provider { id legalName certification { code } }
  evidence { contractTitle periodIndex startsOn endsOn composite base ratingsCounted criticalUpheld
             scorecardVersion contract { id } }
  supersededBy { code status }
} }"""
PROVIDER = """query($id: ID!) { node(id: $id) { ... on Provider { certification { code stars status } } } }"""


async def count_certificates(session) -> int:
    return await session.scalar(select(func.count()).select_from(Certificate))


async def test_an_admin_runs_certification(session, api, login_as):
    world = await sw.build(session)
    d, provider_id = await world.today(), world.contract.provider_id
    for index, ends in ((1, d - 40 * DAY), (2, d - 10 * DAY)):
        await sw.scorecard(world, period_index=index, ends_on=ends, composite=91.5, ratings=15)
    await session.commit()
    token, _ = await login_as(Role.ADMIN)

    payload = (await api(RUN, {"d": d.isoformat()}, token=token))["runCertification"]
    assert payload["errors"] == []
    assert (payload["issued"], payload["revoked"], payload["unchanged"]) == (4, 0, 0)
    ids = [encode_id("Provider", p.id) for p in sorted(world.market.providers, key=lambda p: p.id)]
    assert [p["id"] for p in payload["providers"]] == ids
    stars = {p["id"]: p["certification"]["stars"] for p in payload["providers"]}
    assert stars.pop(encode_id("Provider", provider_id)) == 5
    assert set(stars.values()) == {None}

    again = (await api(RUN, {"d": d.isoformat()}, token=token))["runCertification"]
    assert (again["providers"], again["issued"], again["unchanged"]) == ([], 0, 4)


async def test_a_run_in_the_future_is_refused_and_writes_nothing(session, api, login_as):
    await factories.provider(session)
    await session.commit()
    token, _ = await login_as(Role.ADMIN)
    payload = (await api(RUN, {"d": "2099-01-01"}, token=token))["runCertification"]
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("INVALID", ["asOf"])]
    assert (payload["providers"], payload["issued"]) == ([], None)
    assert await count_certificates(session) == 0


async def test_anyone_verifies_a_certificate_by_its_code(session, api):
    world = await sw.build(session)
    d, provider_id = await world.today(), world.contract.provider_id
    await sw.scorecard(
        world, period_index=1, ends_on=d - 40 * DAY, composite=82.0, ratings=15, base="3000.00"
    )
    await sw.scorecard(
        world, period_index=2, ends_on=d - 10 * DAY, composite=86.0, ratings=16, base="1000.00"
    )
    issued = sw.issued_to(await sw.run(world, d), provider_id)

    found = (await api(CERTIFICATE, {"code": issued.code}))["certificate"]
    assert found == {
        "code": issued.code,
        "stars": 4,
        "rated": True,
        "score": 83.0,
        "issuedOn": d.isoformat(),
        "validUntil": (issued.valid_until).isoformat(),
        "periodsCounted": 2,
        "ratingsCounted": 31,
        "asOf": d.isoformat(),
        "criticalUpheld": False,
        "status": "VALID",
        "revokedAt": None,
        "revokedReason": None,
        "verificationUrl": f"http://127.0.0.1:8000/certificates/{issued.code}",
        "provider": {
            "id": encode_id("Provider", provider_id),
            "legalName": next(p.legal_name for p in world.market.providers if p.id == provider_id),
            "certification": {"code": issued.code},
        },
        "evidence": [
            {
                "contractTitle": "黄浦区居家养老上门服务采购",
                "periodIndex": index,
                "startsOn": (ends - 89 * DAY).isoformat(),
                "endsOn": ends.isoformat(),
                "composite": composite,
                "base": base,
                "ratingsCounted": ratings,
                "criticalUpheld": False,
                "scorecardVersion": 1,
                "contract": {"id": encode_id("Contract", world.contract.id)},
            }
            for index, ends, composite, base, ratings in (
                (1, d - 40 * DAY, 82.0, "3000.00", 15),
                (2, d - 10 * DAY, 86.0, "1000.00", 16),
            )
        ],
        "supersededBy": None,
    }
    # As typed from paper: any case, spaces for hyphens.
    typed = issued.code.lower().replace("-", " ")
    assert (await api(CERTIFICATE, {"code": typed}))["certificate"]["code"] == issued.code
    assert (await api(CERTIFICATE, {"code": "2222-2222-2222-2222-2222"}))["certificate"] is None
    assert (await api(CERTIFICATE, {"code": "no such code"}))["certificate"] is None
    too_long = (await api.raw(CERTIFICATE, {"code": "A" * 65})).json()
    assert too_long["data"] is None or too_long["data"]["certificate"] is None
    assert "at most 64 characters" in too_long["errors"][0]["message"]


async def test_a_superseded_or_revoked_certificate_still_verifies_and_says_so(session, api):
    world = await sw.build(session)
    d, provider_id = await world.today(), world.contract.provider_id
    old = sw.issued_to(await sw.run(world, d - DAY), provider_id)
    new = sw.issued_to(await sw.run(world, d), provider_id)
    found = (await api(CERTIFICATE, {"code": old.code}))["certificate"]
    assert (found["status"], found["supersededBy"]) == ("SUPERSEDED", {"code": new.code, "status": "VALID"})
    assert found["provider"]["certification"] == {"code": new.code}

    await providers.suspend_provider(session=session, actor=ADMIN, provider_id=provider_id, reason="整改")
    await sw.run(world, d)
    found = (await api(CERTIFICATE, {"code": new.code}))["certificate"]
    assert (found["status"], found["revokedReason"]) == ("REVOKED", "provider suspended")
    assert found["revokedAt"] is not None
    assert found["provider"]["certification"] is None
    old_again = (await api(CERTIFICATE, {"code": old.code}))["certificate"]
    assert old_again["supersededBy"] == {"code": new.code, "status": "REVOKED"}


async def test_a_provider_shows_its_current_certificate(session, api):
    world = await sw.build(session)
    d, provider_id = await world.today(), world.contract.provider_id
    node = {"id": encode_id("Provider", provider_id)}
    assert (await api(PROVIDER, node))["node"]["certification"] is None  # before the first run
    issued = sw.issued_to(await sw.run(world, d), provider_id)
    assert (await api(PROVIDER, node))["node"]["certification"] == {
        "code": issued.code,
        "stars": None,
        "status": "VALID",
    }
    await world.advance((issued.valid_until - d + DAY).days * 86400)
    assert (await api(PROVIDER, node))["node"]["certification"] is None  # expired


PROVIDERS = """query($n: Int!) { providers(first: $n) {
  edges { node { legalName certification { code stars rated status validUntil } } } } }"""


@pytest.mark.uncached
async def test_certifications_of_a_page_of_providers_take_one_statement(session, api, statements):
    for _ in range(50):
        await factories.provider(session)
    await session.commit()
    d = clock.today(await clock.now(session))
    await certification.run_certification(session=session, actor=ADMIN, as_of=d)
    await session.commit()

    with statements:
        small = await api(PROVIDERS, {"n": 5})
    few = statements.count
    with statements:
        large = await api(PROVIDERS, {"n": 50})
    many = statements.count
    assert len(small["providers"]["edges"]) == 5 and len(large["providers"]["edges"]) == 50
    assert all(e["node"]["certification"]["status"] == "VALID" for e in large["providers"]["edges"])
    assert many == few
    # clock offset + count + page + certificates
    assert many == 4


@pytest.mark.parametrize(
    "document",
    [
        '{ certificate(code: "x") { code } }',
        "{ providers(first: 5) { edges { node { certification { stars } } } } }",
        'query { node(id: "x") { ... on Provider { certification { code } } } }',
        'mutation { runCertification(asOf: "2026-01-01") { issued } }',
    ],
)
def test_certificates_follow_the_clock_and_are_never_answered_from_the_cache(document):
    """A certificate expires, and which one is current changes, with no state change to version the cache."""
    from core.cache import cacheable

    assert not cacheable(application.build_schema()._schema, document, None)
