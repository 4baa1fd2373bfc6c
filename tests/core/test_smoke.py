from tests import factories


async def test_register_and_list_provider(session, api):
    await factories.provider(session)
    await session.commit()
    data = await api(
        "{ providers(first: 5) { totalCount edges { node { legalName status qualifications { type } } } } }"
    )
    assert data["providers"]["totalCount"] == 1
