"""The market's directory, kept by ADMINs: regions (SPEC §3), purchasing departments and audit firms."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Select, exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from stdnum.cn import uscc
from stdnum.exceptions import ValidationError as StdnumValidationError

from core import journal
from core.auth import Actor
from core.errors import DomainError, ErrorCode, Validator
from market.models import AuditFirm, Department, Region, RegionKind


async def create_region(
    *,
    session: AsyncSession,
    actor: Actor,
    code: str,
    name: str,
    kind: RegionKind,
    population: int,
    parent_id: int | None = None,
) -> Region:
    code = code.strip()
    check = Validator()
    check.check(bool(code), "a code is required", field=["input", "code"])
    check.check(bool(name.strip()), "a name is required", field=["input", "name"])
    check.check(population >= 0, "population cannot be negative", field=["input", "population"])
    check.raise_if_any()
    if parent_id is not None and await session.get(Region, parent_id) is None:
        raise DomainError(ErrorCode.NOT_FOUND, "no region with this ID", field=["input", "parentId"])
    if await session.scalar(select(exists().where(Region.code == code))):
        raise DomainError(ErrorCode.ALREADY_EXISTS, "a region with this code exists", field=["input", "code"])
    region = Region(code=code, name=name.strip(), kind=kind, population=population, parent_id=parent_id)
    session.add(region)
    await journal.record(session, actor=actor, action="region.created", entity=region)
    return region


async def create_department(*, session: AsyncSession, actor: Actor, name: str, region_id: int) -> Department:
    check = Validator()
    check.check(bool(name.strip()), "a name is required", field=["input", "name"])
    check.raise_if_any()
    if await session.get(Region, region_id) is None:
        raise DomainError(ErrorCode.NOT_FOUND, "no region with this ID", field=["input", "regionId"])
    department = Department(name=name.strip(), region_id=region_id)
    session.add(department)
    await journal.record(session, actor=actor, action="department.created", entity=department)
    return department


def valid_credit_code(check: Validator, code: str, *, field: Sequence[str]) -> str:
    """The compact Unified Social Credit Code (统一社会信用代码), or a problem noted."""
    compact = uscc.compact(code)
    try:
        uscc.validate(compact)
    except StdnumValidationError as error:
        check.check(False, f"not a valid Unified Social Credit Code: {error.message}", field=field)
    return compact


async def create_audit_firm(*, session: AsyncSession, actor: Actor, name: str, credit_code: str) -> AuditFirm:
    check = Validator()
    check.check(bool(name.strip()), "a name is required", field=["input", "name"])
    credit_code = valid_credit_code(check, credit_code, field=["input", "creditCode"])
    check.raise_if_any()
    if await session.scalar(select(exists().where(AuditFirm.credit_code == credit_code))):
        raise DomainError(
            ErrorCode.ALREADY_EXISTS,
            "an audit firm with this credit code exists",
            field=["input", "creditCode"],
        )
    firm = AuditFirm(name=name.strip(), credit_code=credit_code)
    session.add(firm)
    await journal.record(session, actor=actor, action="audit_firm.created", entity=firm)
    return firm


def regions_statement() -> Select:
    return select(Region).order_by(Region.code)


def departments_statement() -> Select:
    return select(Department).order_by(Department.id)


def audit_firms_statement() -> Select:
    return select(AuditFirm).order_by(AuditFirm.name)
