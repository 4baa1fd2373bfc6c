"""Demo marketplace for a first run (`market demo load`): two districts, their purchasing
departments, one account per role, four approved providers and a small catalogue.

Everything is built through `market.service`, acting as the platform operator, so the
demo obeys the same rules as real data. The organisations are fictional; their Unified
Social Credit Codes (统一社会信用代码) are made up but carry correct check digits.
ACCOUNTS is the table the README prints: change one, change the other.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.auth import Actor, Role
from market import service
from market.models import KpiDirection, KpiSource, PackageTier, ProviderKind, RegionKind, User
from market.service import KpiSpec, PackageSpec

OPERATOR = Actor(user_id=None, role=Role.ADMIN)

PASSWORDS = {
    Role.ADMIN: "demo-admin-2026",
    Role.OFFICER: "demo-officer-2026",
    Role.EVALUATOR: "demo-evaluator-2026",
    Role.AUDITOR: "demo-auditor-2026",
    Role.PROVIDER: "demo-provider-2026",
}


@dataclass(frozen=True)
class DemoRegion:
    code: str
    name: str
    kind: RegionKind
    population: int  # 2020 census (第七次全国人口普查)


REGIONS = (
    DemoRegion("310101", "上海市黄浦区", RegionKind.URBAN, 662_030),
    DemoRegion("310151", "上海市崇明区", RegionKind.RURAL, 637_921),
)

# Department name -> region code.
DEPARTMENTS = {
    "黄浦区民政局": "310101",
    "崇明区卫生健康委员会": "310151",
}

AUDIT_FIRM_NAME = "上海明鉴公共服务评估有限公司"
AUDIT_FIRM_CREDIT_CODE = "91310101MA1GK3D89Q"


@dataclass(frozen=True)
class DemoQualification:
    type: str
    number: str
    years_valid: int  # from 1 January of the year before loading


@dataclass(frozen=True)
class DemoProvider:
    legal_name: str
    credit_code: str
    kind: ProviderKind
    region_codes: tuple[str, ...]
    qualifications: tuple[DemoQualification, ...]


PROVIDERS = (
    DemoProvider(
        "上海颐康居家养老服务有限公司",
        "91310101MA1FL7Q36T",
        ProviderKind.ENTERPRISE,
        ("310101", "310151"),
        (
            DemoQualification("养老机构设立许可", "沪黄民养许字〔2025〕第017号", 5),
            DemoQualification("食品经营许可证", "JY23101010045127", 5),
        ),
    ),
    DemoProvider(
        "上海市崇明区乐龄社会工作服务中心",
        "52310151MJ4A258798",
        ProviderKind.SOCIAL_ORGANISATION,
        ("310151",),
        (DemoQualification("养老机构设立许可", "沪崇民养许字〔2025〕第008号", 4),),
    ),
    DemoProvider(
        "上海市崇明区瀛洲社区卫生服务中心",
        "12310151425103777F",
        ProviderKind.PUBLIC_INSTITUTION,
        ("310151",),
        (DemoQualification("医疗机构执业许可证", "PDY01234531015117B1002", 6),),
    ),
    DemoProvider(
        "上海市黄浦区启明课后服务中心",
        "52310101MJ7C04629B",
        ProviderKind.SOCIAL_ORGANISATION,
        ("310101",),
        (DemoQualification("民办学校办学许可证", "教民131010170000123号", 5),),
    ),
)


@dataclass(frozen=True)
class DemoAccount:
    email: str
    role: Role
    name: str
    works_for: str | None  # a department, provider or audit firm of this module, by name
    can: str  # for the README table

    @property
    def password(self) -> str:
        return PASSWORDS[self.role]


ACCOUNTS = (
    DemoAccount(
        "admin@demo.gov.cn",
        Role.ADMIN,
        "平台管理员",
        None,
        "accounts, regions, departments, audit firms, categories, test clock",
    ),
    DemoAccount(
        "officer.huangpu@demo.gov.cn",
        Role.OFFICER,
        "张敏",
        "黄浦区民政局",
        "catalogue, approving and suspending providers",
    ),
    DemoAccount(
        "officer.chongming@demo.gov.cn",
        Role.OFFICER,
        "陈卫东",
        "崇明区卫生健康委员会",
        "catalogue, approving and suspending providers",
    ),
    DemoAccount(
        "evaluator.li@demo.gov.cn", Role.EVALUATOR, "李静", "黄浦区民政局", "scores bids (once built)"
    ),
    DemoAccount(
        "evaluator.zhou@demo.org.cn",
        Role.EVALUATOR,
        "周志强",
        None,
        "outside expert; scores bids (once built)",
    ),
    DemoAccount(
        "auditor@mingjian.demo.cn", Role.AUDITOR, "王磊", AUDIT_FIRM_NAME, "audits contracts (once built)"
    ),
    *(
        DemoAccount(email, Role.PROVIDER, name, provider.legal_name, "its own qualifications")
        for email, name, provider in zip(
            (
                "yikang@provider.demo.cn",
                "leling@provider.demo.cn",
                "yingzhou@provider.demo.cn",
                "qiming@provider.demo.cn",
            ),
            ("刘芳", "黄晓燕", "吴建国", "孙悦"),
            PROVIDERS,
            strict=True,
        )
    ),
)

_HOME_CARE_STANDARD = """\
服务对象：经老年照护统一需求评估、符合居家照护条件的本区老年人。
每次上门服务不少于60分钟，由持有养老护理员职业技能等级证书的人员提供：生活照料（助浴、助洁、助餐、协助如厕）、\
基础照护（体位转换、压疮预防）、安全巡视与健康观察。
服务前一日电话预约；服务完成后由老年人或其家属确认；发现异常情况须在24小时内报告社区。"""

_HEALTH_CHECK_STANDARD = """\
服务对象：辖区内65岁及以上常住居民，每人每年一次。
按《国家基本公共卫生服务规范（第三版）》老年人健康管理要求：生活方式和健康状况评估；体格检查（血压、体重指数、\
视力、听力、运动功能）；辅助检查（血常规、尿常规、肝功能、肾功能、空腹血糖、血脂、心电图、腹部B超）；健康指导。
体检结果于15个工作日内反馈本人，异常结果在一个月内随访。"""

_TUTORING_STANDARD = """\
服务对象：义务教育阶段学生，在校内或社区场所开展，不得开展学科类培训。
每节服务2小时，每班不超过30名学生，由具备教师资格证或相应专业资质的人员提供作业辅导、阅读、体育、艺术和科普活动。
学生签到、签退记录完整，家长可随时查询；安全预案和责任人明确。"""


def _percent(name: str, target: float, weight: float, source: KpiSource) -> KpiSpec:
    return KpiSpec(name, "%", target, KpiDirection.HIGHER_IS_BETTER, weight, source)


def _complaints(weight: float) -> KpiSpec:
    return KpiSpec(
        "有效投诉率", "per 100 deliveries", 1, KpiDirection.LOWER_IS_BETTER, weight, KpiSource.COMPLAINT_RATE
    )


# Package code -> content of version 1.
PACKAGES = {
    "ELDER-HOME-VISIT": PackageSpec(
        name="居家养老上门服务",
        name_en="Home elderly care visit",
        category="ELDERLY_CARE",
        tier=PackageTier.BASIC,
        unit="visit",
        standard=_HOME_CARE_STANDARD,
        min_unit_price=Decimal("65.00"),
        max_unit_price=Decimal("130.00"),
        kpis=[
            _percent("按时上门率", 95, 0.4, KpiSource.AUDIT),
            _percent("服务完成率", 100, 0.4, KpiSource.DELIVERY_RATE),
            _complaints(0.2),
        ],
    ),
    "HEALTH-CHECKUP": PackageSpec(
        name="社区老年人健康体检",
        name_en="Community health check-up",
        category="HEALTH",
        tier=PackageTier.BASIC,
        unit="person",
        standard=_HEALTH_CHECK_STANDARD,
        min_unit_price=Decimal("120.00"),
        max_unit_price=Decimal("260.00"),
        kpis=[
            _percent("体检完成率", 100, 0.6, KpiSource.DELIVERY_RATE),
            _percent("异常结果随访率", 90, 0.4, KpiSource.AUDIT),
        ],
    ),
    "AFTER-SCHOOL-TUTORING": PackageSpec(
        name="课后托管与辅导服务",
        name_en="After-school tutoring",
        category="EDUCATION",
        tier=PackageTier.BASIC,
        unit="session",
        standard=_TUTORING_STANDARD,
        min_unit_price=Decimal("240.00"),
        max_unit_price=Decimal("480.00"),
        kpis=[
            _percent("课时完成率", 100, 0.5, KpiSource.DELIVERY_RATE),
            _percent("学生出勤率", 90, 0.3, KpiSource.AUDIT),
            _complaints(0.2),
        ],
    ),
}


async def database_is_empty(session: AsyncSession) -> bool:
    """True while nobody has an account: a fresh database the demo may fill."""
    return await session.scalar(select(User.id).limit(1)) is None


async def load(session: AsyncSession) -> str:
    """Create the demo marketplace in `session`; the caller commits. Returns a summary."""
    regions = {
        r.code: await service.create_region(
            session=session,
            actor=OPERATOR,
            code=r.code,
            name=r.name,
            kind=r.kind,
            population=r.population,
        )
        for r in REGIONS
    }
    organisations: dict[str, dict[str, int]] = {"department_id": {}, "provider_id": {}, "audit_firm_id": {}}
    for name, region_code in DEPARTMENTS.items():
        department = await service.create_department(
            session=session, actor=OPERATOR, name=name, region_id=regions[region_code].id
        )
        organisations["department_id"][name] = department.id
    firm = await service.create_audit_firm(
        session=session, actor=OPERATOR, name=AUDIT_FIRM_NAME, credit_code=AUDIT_FIRM_CREDIT_CODE
    )
    organisations["audit_firm_id"][firm.name] = firm.id

    # Registration makes each provider's first account; the rest are made by the operator.
    provider_accounts = {a.works_for: a for a in ACCOUNTS if a.role == Role.PROVIDER}
    first_year = (await clock.now(session)).date().year - 1
    for p in PROVIDERS:
        account = provider_accounts[p.legal_name]
        registration = await service.register_provider(
            session=session,
            actor=OPERATOR,
            legal_name=p.legal_name,
            credit_code=p.credit_code,
            kind=p.kind,
            region_ids=[regions[code].id for code in p.region_codes],
            admin_email=account.email,
            admin_password=account.password,
            admin_name=account.name,
        )
        provider_id = registration.provider.id
        organisations["provider_id"][p.legal_name] = provider_id
        await service.approve_provider(session=session, actor=OPERATOR, provider_id=provider_id)
        for q in p.qualifications:
            await service.add_qualification(
                session=session,
                actor=OPERATOR,
                provider_id=provider_id,
                type=q.type,
                number=q.number,
                valid_from=dt.date(first_year, 1, 1),
                valid_to=dt.date(first_year + q.years_valid, 12, 31),
            )

    for account in ACCOUNTS:
        if account.role == Role.PROVIDER:
            continue
        links = {
            key: by_name[account.works_for]
            for key, by_name in organisations.items()
            if account.works_for in by_name
        }
        await service.create_user(
            session=session,
            actor=OPERATOR,
            email=account.email,
            password=account.password,
            name=account.name,
            role=account.role,
            **links,
        )

    for code, spec in PACKAGES.items():
        await service.create_service_package(session=session, actor=OPERATOR, code=code, spec=spec)

    return (
        f"demo data loaded: {len(REGIONS)} regions, {len(DEPARTMENTS)} departments, 1 audit firm, "
        f"{len(PROVIDERS)} approved providers, {len(PACKAGES)} service packages, "
        f"{len(ACCOUNTS)} accounts (passwords in README.md)"
    )
