"""A contract's deliveries page through cursors, newest first (batched per page of contracts)."""

import datetime as dt

from core.api import encode_id
from tests import factories
from tests.contracts import world as cw

PAGE = """query($id: ID!, $after: String) { node(id: $id) { ... on Contract {
  deliveries(first: 3, after: $after) {
    totalCount pageInfo { hasNextPage hasPreviousPage endCursor } edges { node { deliveredOn } }
  } } } }"""


async def test_deliveries_page_newest_first(session, api):
    world = await cw.build(session, start_in_days=10)
    start = world.contract.start_date
    for day in range(7):
        await world.deliver(on=start + dt.timedelta(days=day), phone=f"1390000{day:04d}")
    token = await api.login(world.users["officer"].email, factories.PASSWORD)
    contract_id = encode_id("Contract", world.contract.id)

    seen, after, pages = [], None, []
    while True:
        page = (await api(PAGE, {"id": contract_id, "after": after}, token=token))["node"]["deliveries"]
        pages.append(page["pageInfo"])
        seen += [edge["node"]["deliveredOn"] for edge in page["edges"]]
        assert page["totalCount"] == 7
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [(start + dt.timedelta(days=d)).isoformat() for d in range(6, -1, -1)]
    assert [(p["hasNextPage"], p["hasPreviousPage"]) for p in pages] == [
        (True, False),
        (True, True),
        (False, True),
    ]
