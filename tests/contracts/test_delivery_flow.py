"""A contract in delivery from the first delivery to an appeal, through the services."""

from sqlalchemy import select

from contracts import audits, complaints, deliveries, lifecycle, outbox, ratings
from contracts import models as cm
from market.models import KpiSource
from tests.contracts import world as cw


class Collect:
    def __init__(self):
        self.sent = []

    def send(self, *, channel, recipient, body):
        self.sent.append((channel, recipient, body))


async def test_delivery_to_appeal(session):
    world = await cw.build(session, start_in_days=10)
    delivery, token = await world.deliver(units=2)
    backend = Collect()
    assert await outbox.send_notifications(session=session, backend=backend) == (1, 0)
    await session.commit()
    assert backend.sent[0][1] == cw.PHONE and token in backend.sent[0][2]

    view = await deliveries.resident_view(session=session, token=token)
    assert view.delivery.id == delivery.id
    await ratings.rate_delivery(
        session=session, token=token, rating=ratings.Stars(4, 5, 4, 3, "好"), client_address="10.0.0.1"
    )
    complaint = await complaints.file_complaint(
        session=session, token=token, category="ATTITUDE", text="迟到了"
    )
    await session.commit()
    assert complaints.light(complaint, await world.now()) == cm.Light.GREEN

    audit = await audits.create_audit(
        session=session, actor=world.auditor, contract_id=world.contract.id, period_index=1
    )
    kpis = await lifecycle.contract_kpis(session, [world.contract.id])
    for kpi in kpis:
        if kpi.source == KpiSource.AUDIT:
            await audits.record_kpi_value(
                session=session, actor=world.auditor, audit_id=audit.id, kpi_id=kpi.id, value=96
            )
    await audits.add_audit_check(
        session=session, actor=world.auditor, audit_id=audit.id,
        check=audits.CheckSpec("护理员持证上岗", False, 2.0, cm.Severity.MAJOR),
    )  # fmt: skip
    await audits.submit_audit(session=session, actor=world.auditor, audit_id=audit.id)
    check = (await session.scalars(select(cm.AuditCheck).where(cm.AuditCheck.audit_id == audit.id))).one()
    appeal = await audits.appeal_audit(
        session=session, actor=world.provider, audit_id=audit.id, check_ids=[check.id], reason="证书齐全"
    )
    await audits.decide_appeal(
        session=session, actor=world.officer, appeal_id=appeal.id,
        decisions=[audits.ItemDecision(check.id, upheld=False)],
    )  # fmt: skip
    await session.commit()
    assert check.overturned
    assert audits.audit_score([check]) == 100.0
