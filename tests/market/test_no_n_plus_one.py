"""Lists run a number of SQL statements that does not grow with the page size."""

import pytest

from core.auth import Role
from tests import factories

PROVIDERS = """
query($n: Int!) {
  providers(first: $n) {
    totalCount
    edges { node { legalName status qualifications { type validTo } regions { code parent { code } } certification { stars } } }
  }
}"""
PACKAGES = """
query($n: Int!) {
  servicePackages(first: $n) {
    totalCount
    edges { node { code version kpis { name weight source } categoryDetails { name } } }
  }
}"""


async def _statements(api, statements, query, n, token=None):
    with statements:
        data = await api(query, {"n": n}, token=token)
    return statements.count, data


@pytest.mark.uncached
async def test_providers_page_with_qualifications(session, api, statements, login_as):
    regions = [await factories.region(session) for _ in range(3)]
    for i in range(50):
        provider = await factories.provider(session, regions=[regions[i % 3]])
        await factories.qualification(session, provider)
        await factories.qualification(session, provider, type="医疗机构执业许可证")
    token, _ = await login_as(Role.OFFICER)

    small, data_small = await _statements(api, statements, PROVIDERS, 5, token)
    large, data_large = await _statements(api, statements, PROVIDERS, 50, token)
    assert len(data_small["providers"]["edges"]) == 5
    assert len(data_large["providers"]["edges"]) == 50
    assert all(len(e["node"]["qualifications"]) == 2 for e in data_large["providers"]["edges"])
    assert large == small
    # clock offset + actor, count + page, qualifications, regions (the regions have no parent), certificates
    assert large == 7


@pytest.mark.uncached
async def test_packages_page_with_kpis(session, api, statements):
    for i in range(50):
        await factories.package(session, code=f"PKG-N{i:02d}")
    await session.commit()

    small, _ = await _statements(api, statements, PACKAGES, 5)
    large, data = await _statements(api, statements, PACKAGES, 50)
    assert len(data["servicePackages"]["edges"]) == 50
    assert all(len(e["node"]["kpis"]) == 3 for e in data["servicePackages"]["edges"])
    assert large == small
    # count + page, KPIs, categories
    assert large == 4
