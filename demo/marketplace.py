"""Demo marketplace for a first run (`market demo load`): two districts, their purchasing
departments, one account per role, four approved providers, a small catalogue, one tender in
each state (DRAFT to AWARDED, UNSUCCESSFUL, CANCELLED), and the awarded tender's contract in
delivery: its audit firm, ten weeks of visits with the residents' ratings, a dispute, complaints
in each state and light, and the audit of its first period with an appeal.

Everything is built through the domains' services, by the platform operator, the demo accounts
and the residents' link tokens, so the demo obeys the same rules as real data. The histories
are back-filled: the session's clock is pinned to each step's moment (`core.clock.pin`), days
before loading. The residents' texts are then sent through a silent backend, so that the
database keeps no phone number or link token in clear. The organisations and phone numbers are
fictional; the Unified Social Credit Codes (统一社会信用代码) are made up but carry correct check
digits.
ACCOUNTS is the table the README prints: change one, change the other.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts import audits, complaints, deliveries, lifecycle, outbox, ratings
from contracts.models import AuditCheck, Contract, Severity
from core import clock
from core.auth import Actor, Role
from demo.history import Ago, History, When
from demo.scoring import PAST_CONTRACTS, PastContractStory, Scored, certify, tell_scoring
from market import accounts, awards, bids, catalogue, challenges, directory, evaluation, providers, tenders
from market.catalogue import KpiSpec, PackageSpec
from market.models import (
    ChallengeDecision,
    KpiDirection,
    KpiSource,
    PackageTier,
    ProviderKind,
    RegionKind,
    Tender,
    TenderStatus,
    User,
)

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
    years_valid: int  # from 1 January of the year before the base data's


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
        "accounts, regions, departments, audit firms, categories, test clock, the outbox",
    ),
    DemoAccount(
        "officer.huangpu@demo.gov.cn",
        Role.OFFICER,
        "张敏",
        "黄浦区民政局",
        "catalogue, providers, tenders from draft to award; contracts, complaints, appeals",
    ),
    DemoAccount(
        "officer.chongming@demo.gov.cn",
        Role.OFFICER,
        "陈卫东",
        "崇明区卫生健康委员会",
        "catalogue, providers, tenders from draft to award; contracts, complaints, appeals",
    ),
    DemoAccount(
        "evaluator.li@demo.gov.cn", Role.EVALUATOR, "李静", "黄浦区民政局", "declares conflicts, scores bids"
    ),
    DemoAccount(
        "evaluator.zhou@demo.org.cn",
        Role.EVALUATOR,
        "周志强",
        None,
        "outside expert; declares conflicts, scores bids",
    ),
    DemoAccount(
        "auditor@mingjian.demo.cn",
        Role.AUDITOR,
        "王磊",
        AUDIT_FIRM_NAME,
        "audits the contracts assigned to its firm",
    ),
    *(
        DemoAccount(
            email,
            Role.PROVIDER,
            name,
            provider.legal_name,
            "its qualifications, bids, challenges; deliveries, complaint responses, appeals",
        )
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


# ---------------------------------------------------------------- tenders

ELDER_CARE_LICENCE = "养老机构设立许可"
MEDICAL_LICENCE = "医疗机构执业许可证"
SCHOOL_LICENCE = "民办学校办学许可证"

EVALUATORS = ("evaluator.li@demo.gov.cn", "evaluator.zhou@demo.org.cn")
YIKANG, LELING, YINGZHOU = "yikang@provider.demo.cn", "leling@provider.demo.cn", "yingzhou@provider.demo.cn"


@dataclass(frozen=True)
class DemoBid:
    provider: str  # the email of the provider account that bids; a second bid amends the first
    unit_price: str
    at: When
    proposal: str
    capacity: str


@dataclass(frozen=True)
class DemoEvaluation:
    evaluator: str  # account email
    at: When
    scores: dict[str, float]  # bidder account email -> quality score; only valid bids are scored


@dataclass(frozen=True)
class DemoQuestion:
    provider: str
    asked: When
    question: str
    answered: When
    answer: str


@dataclass(frozen=True)
class DemoChallenge:
    provider: str
    filed: When
    reason: str
    decided: When
    decision: ChallengeDecision
    note: str


@dataclass(frozen=True)
class DemoTender:
    """A tender and its history, told through the services at the moments given."""

    status: TenderStatus  # where the history ends; loading checks it
    officer: str  # account email: the tender belongs to this officer's department
    package: str
    region: str
    title: str  # {year}: the year the contract starts
    quantity: int
    periods: int
    period_months: int
    max_unit_price: str
    required: tuple[str, ...]
    drafted: When
    deadline: When
    starts_after: int  # the contract starts on the 1st of the month after this day
    min_valid_bids: int = 3
    published: When | None = None
    questions: tuple[DemoQuestion, ...] = ()
    bids: tuple[DemoBid, ...] = ()
    opened: When | None = None
    evaluations: tuple[DemoEvaluation, ...] = ()
    recommended: When | None = None
    challenges: tuple[DemoChallenge, ...] = ()
    finalized: When | None = None
    cancelled: tuple[When, str] | None = None


_YIKANG_CARE = (
    "组建由持证养老护理员组成的片区服务小组，每组负责一个街道；服务前一日电话预约，上门后按照个人照护计划"
    "完成助浴、助洁、助餐和基础照护，服务记录由老人或家属当场确认；配备24小时值班电话，异常情况2小时内到场。"
)
_YIKANG_CAPACITY = "养老护理员86名（持证率100%），护士4名，服务车辆6辆，黄浦区、崇明区各设服务站一处。"
_LELING_CARE = (
    "以社会工作者加养老护理员的双人模式上门：社工负责需求评估和家属沟通，护理员完成生活照料和基础照护；"
    "每月回访一次，季度开展满意度调查，投诉24小时内回复。"
)
_LELING_CAPACITY = "持证养老护理员52名，持证社会工作者9名，崇明区内三个镇设有服务点。"

TENDERS = (
    DemoTender(
        status=TenderStatus.AWARDED,
        officer="officer.huangpu@demo.gov.cn",
        package="ELDER-HOME-VISIT",
        region="310101",
        title="黄浦区{year}年度居家养老上门服务采购项目",
        quantity=36_000,
        periods=4,
        period_months=3,
        max_unit_price="100.00",  # the winning 96.50 is near it: a red flag (NEAR_CEILING)
        required=(ELDER_CARE_LICENCE,),
        min_valid_bids=2,
        drafted=When(-190, "09:30"),
        published=When(-189, "10:00"),
        deadline=When(-168, "17:00"),
        starts_after=-142,
        questions=(
            DemoQuestion(
                LELING,
                When(-185, "10:15"),
                "服务对象是否包括长期护理保险评估等级为二级至六级的老人？每次60分钟能否分次累计？",
                When(-184, "15:30"),
                "服务对象为经统一需求评估、符合居家照护条件的本区老年人，包括长护险评估二至六级人员；"
                "每次上门服务不少于60分钟，不得分次累计。",
            ),
        ),
        bids=(
            DemoBid(YIKANG, "98.00", When(-183, "14:20"), _YIKANG_CARE, _YIKANG_CAPACITY),
            DemoBid(LELING, "94.00", When(-175, "11:05"), _LELING_CARE, _LELING_CAPACITY),
            DemoBid(YIKANG, "96.50", When(-170, "16:40"), _YIKANG_CARE, _YIKANG_CAPACITY),
        ),
        opened=When(-168, "17:30"),
        evaluations=(
            DemoEvaluation(EVALUATORS[0], When(-167, "09:30"), {YIKANG: 88, LELING: 82}),
            DemoEvaluation(EVALUATORS[1], When(-167, "14:00"), {YIKANG: 86, LELING: 80}),
        ),
        recommended=When(-166, "10:00"),
        challenges=(
            DemoChallenge(
                LELING,
                When(-163, "09:40"),
                "中标候选人持证护理员人数不足以覆盖全区十个街道，请求复核其技术评分。",
                When(-161, "16:00"),
                ChallengeDecision.DISMISSED,
                "经复核，中标候选人提交的养老护理员职业技能等级证书均有效，评审专家评分符合评分细则，质疑不成立。",
            ),
        ),
        finalized=When(-142, "10:00"),
    ),
    DemoTender(
        status=TenderStatus.AWARD_PENDING,
        officer="officer.chongming@demo.gov.cn",
        package="ELDER-HOME-VISIT",
        region="310151",
        title="崇明区医养结合居家上门照护服务采购项目",
        quantity=14_400,
        periods=4,
        period_months=3,
        max_unit_price="110.00",
        required=(ELDER_CARE_LICENCE,),
        min_valid_bids=2,
        drafted=When(-42, "09:00"),
        published=When(-41, "10:00"),
        deadline=When(-20, "17:00"),
        starts_after=20,
        bids=(
            DemoBid(YIKANG, "99.00", When(-33, "15:10"), _YIKANG_CARE, _YIKANG_CAPACITY),
            DemoBid(LELING, "91.00", When(-28, "10:30"), _LELING_CARE, _LELING_CAPACITY),
        ),
        opened=When(-20, "17:30"),
        evaluations=(
            DemoEvaluation(EVALUATORS[0], When(-17, "10:00"), {YIKANG: 83, LELING: 87}),
            DemoEvaluation(EVALUATORS[1], When(-16, "15:00"), {YIKANG: 84, LELING: 85}),
        ),
        recommended=When(-1, "10:00"),
    ),
    DemoTender(
        status=TenderStatus.PUBLISHED,
        officer="officer.chongming@demo.gov.cn",
        package="ELDER-HOME-VISIT",
        region="310151",
        title="崇明区农村高龄独居老人上门照护服务采购项目",
        quantity=9_600,
        periods=2,
        period_months=6,
        max_unit_price="115.00",
        required=(ELDER_CARE_LICENCE,),
        min_valid_bids=2,
        drafted=When(-7, "14:00"),
        published=When(-6, "09:30"),
        deadline=When(20, "17:00"),
        starts_after=40,
        questions=(
            DemoQuestion(
                YIKANG,
                When(-5, "10:10"),
                "农村地区服务对象居住分散，往返交通时间是否计入每次60分钟的服务时长？",
                When(-4, "16:30"),
                "交通时间不计入服务时长；投标报价应包含交通成本。",
            ),
        ),
        bids=(
            DemoBid(YIKANG, "104.00", When(-3, "16:20"), _YIKANG_CARE, _YIKANG_CAPACITY),
            DemoBid(LELING, "97.00", When(-2, "11:45"), _LELING_CARE, _LELING_CAPACITY),
        ),
    ),
    DemoTender(
        status=TenderStatus.EVALUATING,
        officer="officer.huangpu@demo.gov.cn",
        package="ELDER-HOME-VISIT",
        region="310101",
        title="黄浦区失智老人居家照护上门服务采购项目",
        quantity=7_200,
        periods=4,
        period_months=3,
        max_unit_price="125.00",
        required=(ELDER_CARE_LICENCE,),
        min_valid_bids=2,
        drafted=When(-36, "09:30"),
        published=When(-35, "10:00"),
        deadline=When(-13, "17:00"),
        starts_after=20,
        bids=(
            DemoBid(YIKANG, "112.00", When(-27, "10:40"), _YIKANG_CARE, _YIKANG_CAPACITY),
            DemoBid(LELING, "108.00", When(-21, "14:50"), _LELING_CARE, _LELING_CAPACITY),
        ),
        opened=When(-13, "17:30"),
        # One evaluator has scored; the outside expert's scores are awaited.
        evaluations=(DemoEvaluation(EVALUATORS[0], When(-9, "10:30"), {YIKANG: 85, LELING: 83}),),
    ),
    DemoTender(
        status=TenderStatus.UNSUCCESSFUL,
        officer="officer.chongming@demo.gov.cn",
        package="HEALTH-CHECKUP",
        region="310151",
        title="崇明区{year}年度65岁及以上老年人健康体检服务采购项目",
        quantity=60_000,
        periods=4,
        period_months=3,
        max_unit_price="220.00",
        required=(MEDICAL_LICENCE,),
        drafted=When(-52, "09:00"),
        published=When(-51, "10:00"),
        deadline=When(-29, "17:00"),
        starts_after=-20,
        bids=(
            DemoBid(
                YINGZHOU,
                "168.00",
                When(-40, "14:00"),
                "按国家基本公共卫生服务规范组织体检：各村卫生室预约登记，中心统一采血和B超，"
                "行动不便老人上门采血；结果15个工作日内反馈，异常结果由家庭医生一个月内随访。",
                "执业医师31名，护士46名，检验科和B超室各一，流动体检车1辆。",
            ),
            DemoBid(
                YIKANG,
                "176.00",
                When(-34, "10:20"),
                "与合作医疗机构联合开展体检，由我公司负责预约、接送和结果反馈。",
                "服务协调员12名，服务车辆6辆。",
            ),
        ),
        opened=When(-29, "17:30"),  # one valid bid of the three required: 流标
    ),
    DemoTender(
        status=TenderStatus.CANCELLED,
        officer="officer.huangpu@demo.gov.cn",
        package="AFTER-SCHOOL-TUTORING",
        region="310101",
        title="黄浦区困境儿童课后托管与辅导服务采购项目",
        quantity=1_600,
        periods=2,
        period_months=5,
        max_unit_price="420.00",
        required=(SCHOOL_LICENCE,),
        drafted=When(-47, "10:00"),
        published=When(-46, "09:30"),
        deadline=When(-24, "17:00"),
        starts_after=-10,
        cancelled=(
            When(-31, "11:00"),
            "区教育局已将困境儿童课后托管纳入校内课后服务统筹安排，本项目终止采购。",
        ),
    ),
    DemoTender(
        status=TenderStatus.DRAFT,
        officer="officer.huangpu@demo.gov.cn",
        package="ELDER-HOME-VISIT",
        region="310101",
        title="黄浦区独居老人居家安全巡访上门服务采购项目",
        quantity=12_000,
        periods=4,
        period_months=3,
        max_unit_price="100.00",
        required=(ELDER_CARE_LICENCE,),
        min_valid_bids=2,
        drafted=When(-3, "15:00"),
        deadline=When(30, "17:00"),
        starts_after=45,
    ),
    # Last year's contracts, scored, paid and certified (demo.scoring): in the order of PAST_CONTRACTS.
    DemoTender(
        status=TenderStatus.AWARDED,
        officer="officer.huangpu@demo.gov.cn",
        package="ELDER-HOME-VISIT",
        region="310101",
        title="黄浦区{year}年度打浦桥街道居家养老上门服务试点项目",
        quantity=4_800,
        periods=4,
        period_months=3,
        max_unit_price="110.00",
        required=(ELDER_CARE_LICENCE,),
        min_valid_bids=2,
        drafted=When(-560, "09:30"),
        published=When(-559, "10:00"),
        deadline=When(-538, "17:00"),
        starts_after=-507,
        bids=(
            DemoBid(YIKANG, "95.00", When(-550, "15:10"), _YIKANG_CARE, _YIKANG_CAPACITY),
            DemoBid(LELING, "93.00", When(-545, "10:30"), _LELING_CARE, _LELING_CAPACITY),
        ),
        opened=When(-538, "17:30"),
        evaluations=(
            DemoEvaluation(EVALUATORS[0], When(-537, "09:30"), {YIKANG: 87, LELING: 80}),
            DemoEvaluation(EVALUATORS[1], When(-537, "14:00"), {YIKANG: 85, LELING: 79}),
        ),
        recommended=When(-536, "10:00"),
        finalized=When(-512, "10:00"),
    ),
    DemoTender(
        status=TenderStatus.AWARDED,
        officer="officer.chongming@demo.gov.cn",
        package="ELDER-HOME-VISIT",
        region="310151",
        title="崇明区{year}年度城桥镇居家养老上门服务采购项目",
        quantity=2_880,
        periods=4,
        period_months=3,
        max_unit_price="110.00",
        required=(ELDER_CARE_LICENCE,),
        min_valid_bids=2,
        drafted=When(-523, "09:00"),
        published=When(-522, "10:00"),
        deadline=When(-501, "17:00"),
        starts_after=-470,
        bids=(
            DemoBid(LELING, "92.00", When(-515, "11:20"), _LELING_CARE, _LELING_CAPACITY),
            DemoBid(YIKANG, "99.00", When(-510, "16:00"), _YIKANG_CARE, _YIKANG_CAPACITY),
        ),
        opened=When(-501, "17:30"),
        evaluations=(
            DemoEvaluation(EVALUATORS[0], When(-500, "09:30"), {LELING: 85, YIKANG: 83}),
            DemoEvaluation(EVALUATORS[1], When(-500, "14:00"), {LELING: 86, YIKANG: 82}),
        ),
        recommended=When(-499, "10:00"),
        finalized=When(-475, "10:00"),
    ),
)
PREVIOUS_YEAR = tuple(range(len(TENDERS) - len(PAST_CONTRACTS), len(TENDERS)))
"""Indexes in TENDERS of last year's tenders, whose contracts PAST_CONTRACTS tells."""

# When the base data (regions, accounts, providers, catalogue) was set up, before any tender.
BASE_DATA_DAY = When(-600, "09:00")


# ---------------------------------------------------------------- the awarded tender's contract in delivery

AWARDED = next(i for i, t in enumerate(TENDERS) if t.status == TenderStatus.AWARDED)


@dataclass(frozen=True)
class DemoRating:
    stars: int
    timeliness: int | None = None
    attitude: int | None = None
    professionalism: int | None = None
    comment: str | None = None


@dataclass(frozen=True)
class DemoDelivery:
    """A visit recorded by the provider on the evening of `day`; the resident is texted the link."""

    day: int
    phone: str  # made up; only its keyed hash stays once the message is sent
    rating: DemoRating | None = None  # given through the link the next evening
    disputed: str | None = None  # the resident's reason, the next morning
    units: int = 1


@dataclass(frozen=True)
class DemoComplaint:
    delivery_day: int  # about the delivery of that day
    filed: When | Ago
    category: str
    text: str
    hotline: bool = False  # the officer files it for a resident who phoned (12345), else the resident's link
    response: tuple[When | Ago, str] | None = None  # the provider's first response
    closed: tuple[When, str, bool | None] | None = None  # the officer's note; substantiated, None: rejected


@dataclass(frozen=True)
class DemoCheck:
    item: str
    passed: bool
    weight: float
    severity: Severity
    note: str | None = None
    evidence: str | None = None
    appeal: tuple[bool, str] | None = None  # appealed by the provider: (upheld?, the officer's note)


# The residents 颐康 visits (made-up numbers), and a care worker's own phone that 颐康 registered as a
# staff phone: a visit "to" it and its five stars are the self-rating the abuse rule flags.
RESIDENTS = (
    "13916270418",
    "13817352206",
    "15900418837",
    "13701964452",
    "18621503379",
    "13564287710",
    "15021836694",
    "13482067715",
    "18917745203",
    "13611928046",
)
STAFF_PHONES = ("13761420958", "18516094327")

# Ratings of the routine visits, in turn (None: the resident did not rate).
_ROUTINE_RATINGS = (
    DemoRating(5, 5, 5, 5, "护理员很细心，助浴前先试水温，老人很满意。"),
    DemoRating(4, 4, 5, 4),
    DemoRating(5, comment="准时上门，家里打扫得很干净。"),
    None,
    DemoRating(5, 5, 5, 5),
    DemoRating(4, 3, 4, 4, "比约定时间晚了二十分钟，服务本身没问题。"),
    DemoRating(5),
    DemoRating(3, 3, 3, 3, "服务时间偏紧，没做完翻身护理就走了。"),
    DemoRating(5, 5, 5, 4),
    None,
    DemoRating(4, 4, 4, 4),
    DemoRating(2, 2, 3, 2, "助洁不够仔细，卫生间没有打扫。"),
    DemoRating(5, 5, 5, 5, "护理员和老人聊天很耐心，老人盼着她来。"),
)

# Visits that tell something; every other second day from DELIVERY_DAYS is a routine visit.
_SPECIAL_DELIVERIES = (
    DemoDelivery(-70, RESIDENTS[0]),  # the audit's spot check finds it did not happen
    DemoDelivery(-40, STAFF_PHONES[0], DemoRating(5, 5, 5, 5, "非常满意！")),  # self-rating: flagged
    DemoDelivery(-30, RESIDENTS[3], DemoRating(2, 1, 3, 3, "约好上午九点，快十一点才到。")),
    DemoDelivery(-12, RESIDENTS[5], disputed="那天护理员没有上门，老人在家等了一上午。"),
    DemoDelivery(-8, RESIDENTS[7]),
    DemoDelivery(-4, RESIDENTS[2], DemoRating(2, 4, 3, 2, "只打扫了客厅。")),
    DemoDelivery(-2, RESIDENTS[8]),
)
DELIVERY_DAYS = range(-70, -1, 2)  # every second day over the last ten weeks, all in the contract's term
FALSE_DELIVERY_DAY = -70


def _deliveries() -> tuple[DemoDelivery, ...]:
    special = {d.day: d for d in _SPECIAL_DELIVERIES}
    routine = [day for day in DELIVERY_DAYS if day not in special]
    made = {
        day: DemoDelivery(
            day,
            RESIDENTS[i % len(RESIDENTS)],
            _ROUTINE_RATINGS[i % len(_ROUTINE_RATINGS)],
            units=2 if i % 5 == 4 else 1,
        )
        for i, day in enumerate(routine)
    }
    return tuple(sorted((special | made).values(), key=lambda d: d.day))


DELIVERIES = _deliveries()
STAFF_PHONES_REGISTERED = When(-120, "11:00")

COMPLAINTS = (
    DemoComplaint(
        -30,
        When(-29, "09:10"),
        "LATE",
        "约定上午九点上门，护理员快十一点才到，事先也没有打电话说明。",
        response=(When(-29, "14:30"), "经核实，护理员因前一户老人突发情况延误，已上门致歉并调整排班。"),
        closed=(
            When(-26, "16:00"),
            "经电话回访核实，迟到近两小时属实，投诉成立；责成服务商整改排班并书面报告。",
            True,
        ),
    ),
    DemoComplaint(
        -22,
        When(-21, "10:20"),
        "OTHER",
        "家属来电（12345）反映社区助餐点菜价上涨。",
        hotline=True,
        closed=(
            When(-20, "11:00"),
            "反映的是社区助餐点价格，不属于本合同服务内容，已转老年助餐主管科室处理。",
            None,
        ),
    ),
    DemoComplaint(
        -8,
        Ago(146),
        "ATTITUDE",
        "护理员助浴时态度生硬，催老人快一点，老人不愿再让她上门。",
        response=(Ago(140), "已由护理组长上门回访致歉，自下次起更换护理员，并对该护理员进行服务礼仪培训。"),
    ),  # RESPONDED, six days into the seven to resolve: YELLOW
    # OPEN and overdue: RED.
    DemoComplaint(-4, Ago(52), "QUALITY", "助洁只打扫了客厅，厨房和卫生间都没有清理。"),
    # OPEN, filed three hours before loading: GREEN.
    DemoComplaint(-2, Ago(3), "LATE", "护理员提前结束服务，不到四十分钟就离开了。"),
)

# The audit of period 1, its days counted from the period's last day.
AUDIT_KPI_VALUES = {"按时上门率": 93.5}
AUDIT_CHECKS = (
    DemoCheck(
        "护理员持证上岗（抽查20人）",
        True,
        3,
        Severity.MAJOR,
        "20人均持有有效的养老护理员职业技能等级证书。",
        "评估底稿 MJ-PG-01 附件1：证书抽查表",
    ),
    DemoCheck(
        "每次服务不少于60分钟（电话回访30户）",
        True,
        3,
        Severity.MAJOR,
        "30户中29户确认服务时长达标，1户无法联系。",
        "评估底稿 MJ-PG-01 附件2：回访记录",
    ),
    DemoCheck(
        "服务记录由老人或家属签字确认",
        False,
        2,
        Severity.MINOR,
        "抽查40份服务记录，5份无老人或家属签字。",
        "评估底稿 MJ-PG-01 附件3：服务记录照片",
        appeal=(True, "签字缺失属实，事后补签不能替代服务当时的确认，维持原评估结论。"),
    ),
    DemoCheck(
        "异常情况24小时内报告社区",
        False,
        2,
        Severity.MAJOR,
        "一起老人跌倒事件，服务商次日下午才报告居委会。",
        "评估底稿 MJ-PG-01 附件4：居委会登记簿",
        appeal=(
            False,
            "通话记录显示，跌倒发生于当晚21时，次日上午9时已电话报告居委会，未超过24小时，该项不扣分。",
        ),
    ),
    DemoCheck("安全巡视与健康观察记录完整", True, 2, Severity.MINOR, "抽查记录完整。"),
)
APPEAL_REASON = (
    "服务记录签字：5份记录均已由家属事后补签，附补签记录；"
    "跌倒事件：事发当晚21时，次日上午9时即电话报告居委会，附通话记录截图，未超过24小时。"
)
AUDIT_DAYS = {"created": 3, "checked": 4, "submitted": 6, "appealed": 9, "decided": 14}


async def database_is_empty(session: AsyncSession) -> bool:
    """True while nobody has an account: a fresh database the demo may fill."""
    return await session.scalar(select(User.id).limit(1)) is None


@dataclass
class _Loaded:
    """What the history needs of the base data, and what it made."""

    regions: dict[str, int] = field(default_factory=dict)  # code -> id
    packages: dict[str, int] = field(default_factory=dict)  # code -> id
    actors: dict[str, Actor] = field(default_factory=dict)  # account email -> actor
    tenders: dict[int, Tender] = field(default_factory=dict)  # index in TENDERS -> tender
    bids: dict[tuple[int, str], int] = field(default_factory=dict)  # (tender index, bidder email) -> bid id
    asked: dict[tuple[int, int], int] = field(default_factory=dict)  # (tender, question index) -> id
    challenged: dict[tuple[int, int], int] = field(default_factory=dict)  # (tender, challenge index) -> id
    contracts: dict[int, Contract] = field(default_factory=dict)  # index in TENDERS -> its contract


def _first_of_next_month(day: dt.date) -> dt.date:
    return (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)


def _start_date(t: DemoTender, today: dt.date) -> dt.date:
    return _first_of_next_month(today + dt.timedelta(days=t.starts_after))


class _TenderStory:
    """The steps of one tender's history, done through the services by the demo accounts."""

    def __init__(self, history: History, loaded: _Loaded, index: int):
        self.history, self.loaded, self.index = history, loaded, index
        self.session, self.t = history.session, TENDERS[index]

    def tell(self) -> None:
        t, at = self.t, self.history.at
        at(t.drafted, self.draft)
        if t.published:
            at(t.published, partial(self.as_officer, tenders.publish_tender))
        for i, q in enumerate(t.questions):
            at(q.asked, partial(self.ask, i, q))
            at(q.answered, partial(self.answer, i, q))
        for b in t.bids:
            at(b.at, partial(self.bid, b))
        if t.opened:
            at(t.opened, partial(self.as_officer, bids.open_bids))
        for e in t.evaluations:
            at(e.at, partial(self.evaluate, e))
        if t.recommended:
            at(t.recommended, partial(self.as_officer, awards.recommend_award))
        for i, c in enumerate(t.challenges):
            at(c.filed, partial(self.challenge, i, c))
            at(c.decided, partial(self.decide, i, c))
        if t.finalized:
            at(t.finalized, self.finalize)
        if t.cancelled:
            when, reason = t.cancelled
            at(when, partial(self.as_officer, tenders.cancel_tender, reason=reason))

    @property
    def officer(self) -> Actor:
        return self.loaded.actors[self.t.officer]

    @property
    def tender_id(self) -> int:
        return self.loaded.tenders[self.index].id

    async def draft(self) -> None:
        t, loaded = self.t, self.loaded
        start = _start_date(t, self.history.today)
        terms = tenders.TenderTerms(
            package_id=loaded.packages[t.package],
            region_id=loaded.regions[t.region],
            title=t.title.format(year=start.year),
            quantity=t.quantity,
            periods=t.periods,
            period_months=t.period_months,
            start_date=start,
            max_unit_price=Decimal(t.max_unit_price),
            bid_deadline=self.history.moment(t.deadline),
            price_weight=0.3,
            quality_weight=0.6,
            record_weight=0.1,
            evaluator_ids=[loaded.actors[e].user_id for e in EVALUATORS],
            min_valid_bids=t.min_valid_bids,
            required_qualifications=list(t.required),
        )
        tender = await tenders.create_tender(session=self.session, actor=self.officer, terms=terms)
        loaded.tenders[self.index] = tender

    async def as_officer(self, action, **kwargs) -> None:
        """An action of the tender's officer on the tender (publish, open, recommend, cancel)."""
        await action(session=self.session, actor=self.officer, tender_id=self.tender_id, **kwargs)

    async def ask(self, i: int, q: DemoQuestion) -> None:
        clarification = await tenders.ask_clarification(
            session=self.session,
            actor=self.loaded.actors[q.provider],
            tender_id=self.tender_id,
            question=q.question,
        )
        self.loaded.asked[self.index, i] = clarification.id

    async def answer(self, i: int, q: DemoQuestion) -> None:
        await tenders.answer_clarification(
            session=self.session,
            actor=self.officer,
            clarification_id=self.loaded.asked[self.index, i],
            answer=q.answer,
        )

    async def bid(self, b: DemoBid) -> None:
        submission = await bids.submit_bid(
            session=self.session,
            actor=self.loaded.actors[b.provider],
            tender_id=self.tender_id,
            unit_price=Decimal(b.unit_price),
            proposal=b.proposal,
            capacity=b.capacity,
        )
        self.loaded.bids[self.index, b.provider] = submission.bid.id

    async def evaluate(self, e: DemoEvaluation) -> None:
        evaluator = self.loaded.actors[e.evaluator]
        await evaluation.declare_conflicts(
            session=self.session, actor=evaluator, tender_id=self.tender_id, provider_ids=[]
        )
        for bidder, score in e.scores.items():
            bid_id = self.loaded.bids[self.index, bidder]
            await evaluation.score_bid(session=self.session, actor=evaluator, bid_id=bid_id, score=score)

    async def challenge(self, i: int, c: DemoChallenge) -> None:
        challenge = await challenges.file_challenge(
            session=self.session,
            actor=self.loaded.actors[c.provider],
            tender_id=self.tender_id,
            reason=c.reason,
        )
        self.loaded.challenged[self.index, i] = challenge.id

    async def decide(self, i: int, c: DemoChallenge) -> None:
        await challenges.decide_challenge(
            session=self.session,
            actor=self.officer,
            challenge_id=self.loaded.challenged[self.index, i],
            decision=c.decision,
            note=c.note,
        )

    async def finalize(self) -> None:
        contract = await lifecycle.finalize_award(
            session=self.session, actor=self.officer, tender_id=self.tender_id
        )
        self.loaded.contracts[self.index] = contract


_LINK_TOKEN = re.compile(r"/r/([A-Za-z0-9_\-]+)")


class _ContractStory:
    """The awarded tender's contract in delivery: its audit firm, visits, residents' ratings, a dispute,
    complaints, and the audit of its first period with an appeal; the steps follow the award's."""

    def __init__(self, history: History, loaded: _Loaded, index: int):
        self.history, self.loaded, self.index = history, loaded, index
        self.session, self.t = history.session, TENDERS[index]
        self.tokens: dict[int, str] = {}  # delivery day -> link token, as the resident received it
        self.delivery_ids: dict[int, int] = {}  # delivery day -> id
        self.complaint_ids: dict[int, int] = {}  # index in COMPLAINTS -> id
        self.check_ids: dict[int, int] = {}  # index in AUDIT_CHECKS -> id
        self.audit_id = self.appeal_id = 0

    def tell(self) -> None:
        at = self.history.at
        finalized = self.t.finalized
        at(When(finalized.day, "15:00"), self.assign_audit_firm)
        at(STAFF_PHONES_REGISTERED, self.register_staff_phones)
        for d in DELIVERIES:
            at(When(d.day, "18:30"), partial(self.deliver, d))
            if d.rating:
                at(When(d.day + 1, "19:40"), partial(self.rate, d))
            if d.disputed:
                at(When(d.day + 1, "08:50"), partial(self.dispute, d))
        for i, c in enumerate(COMPLAINTS):
            at(c.filed, partial(self.complain, i, c))
            if c.response:
                at(c.response[0], partial(self.respond, i, c.response[1]))
            if c.closed:
                at(c.closed[0], partial(self.close, i, *c.closed[1:]))

        start = _start_date(self.t, self.history.today)
        first = lifecycle.periods(start_date=start, count=self.t.periods, months=self.t.period_months)[0]
        end = (first.ends_on - self.history.today).days

        def day(name: str, time: str) -> When:
            return When(end + AUDIT_DAYS[name], time)

        at(day("created", "09:30"), self.create_audit)
        at(day("checked", "10:00"), self.check)
        at(day("submitted", "17:00"), self.submit_audit)
        at(day("appealed", "15:20"), self.appeal)
        at(day("decided", "11:00"), self.decide_appeal)

    @property
    def contract_id(self) -> int:
        return self.loaded.contracts[self.index].id

    @property
    def officer(self) -> Actor:
        return self.loaded.actors[self.t.officer]

    @property
    def provider(self) -> Actor:
        provider_id = self.loaded.contracts[self.index].provider_id
        return next(
            a for a in self.loaded.actors.values() if a.role == Role.PROVIDER and a.provider_id == provider_id
        )

    @property
    def auditor(self) -> Actor:
        return next(a for a in self.loaded.actors.values() if a.role == Role.AUDITOR)

    async def assign_audit_firm(self) -> None:
        await lifecycle.assign_audit_firm(
            session=self.session,
            actor=self.officer,
            contract_id=self.contract_id,
            audit_firm_id=self.auditor.audit_firm_id,
        )

    async def register_staff_phones(self) -> None:
        await ratings.register_staff_phones(
            session=self.session,
            actor=self.provider,
            provider_id=self.provider.provider_id,
            phones=list(STAFF_PHONES),
        )

    async def deliver(self, d: DemoDelivery) -> None:
        recorded = await deliveries.record_delivery(
            session=self.session,
            actor=self.provider,
            contract_id=self.contract_id,
            delivered_on=self.history.today + dt.timedelta(days=d.day),
            units=d.units,
            resident_phone=d.phone,
        )
        self.delivery_ids[d.day] = recorded.delivery.id
        self.tokens[d.day] = _LINK_TOKEN.search(outbox.unseal(recorded.notification).body).group(1)

    async def rate(self, d: DemoDelivery) -> None:
        r = d.rating
        stars = ratings.Stars(r.stars, r.timeliness, r.attitude, r.professionalism, r.comment)
        await ratings.rate_delivery(session=self.session, token=self.tokens[d.day], rating=stars)

    async def dispute(self, d: DemoDelivery) -> None:
        await deliveries.dispute_delivery(session=self.session, token=self.tokens[d.day], reason=d.disputed)

    async def complain(self, i: int, c: DemoComplaint) -> None:
        if c.hotline:
            complaint = await complaints.file_complaint_for_resident(
                session=self.session,
                actor=self.officer,
                delivery_id=self.delivery_ids[c.delivery_day],
                category=c.category,
                text=c.text,
            )
        else:
            complaint = await complaints.file_complaint(
                session=self.session, token=self.tokens[c.delivery_day], category=c.category, text=c.text
            )
        self.complaint_ids[i] = complaint.id

    async def respond(self, i: int, text: str) -> None:
        await complaints.respond_complaint(
            session=self.session, actor=self.provider, complaint_id=self.complaint_ids[i], text=text
        )

    async def close(self, i: int, note: str, substantiated: bool | None) -> None:
        await complaints.close_complaint(
            session=self.session,
            actor=self.officer,
            complaint_id=self.complaint_ids[i],
            note=note,
            substantiated=substantiated,
            reject=substantiated is None,
        )

    async def create_audit(self) -> None:
        audit = await audits.create_audit(
            session=self.session, actor=self.auditor, contract_id=self.contract_id, period_index=1
        )
        await self.session.flush()
        self.audit_id = audit.id
        for kpi in await lifecycle.contract_kpis(self.session, [self.contract_id]):
            if kpi.source == KpiSource.AUDIT:
                await audits.record_kpi_value(
                    session=self.session,
                    actor=self.auditor,
                    audit_id=audit.id,
                    kpi_id=kpi.id,
                    value=AUDIT_KPI_VALUES[kpi.name],
                )

    async def check(self) -> None:
        for c in AUDIT_CHECKS:
            spec = audits.CheckSpec(c.item, c.passed, c.weight, c.severity, c.note, c.evidence)
            await audits.add_audit_check(
                session=self.session, actor=self.auditor, audit_id=self.audit_id, check=spec
            )
        await self.session.flush()
        rows = (
            await self.session.scalars(
                select(AuditCheck.id).where(AuditCheck.audit_id == self.audit_id).order_by(AuditCheck.id)
            )
        ).all()
        self.check_ids = dict(enumerate(rows))
        await audits.mark_delivery_false(
            session=self.session,
            actor=self.auditor,
            audit_id=self.audit_id,
            delivery_id=self.delivery_ids[FALSE_DELIVERY_DAY],
        )

    async def submit_audit(self) -> None:
        await audits.submit_audit(session=self.session, actor=self.auditor, audit_id=self.audit_id)

    async def appeal(self) -> None:
        appealed = [self.check_ids[i] for i, c in enumerate(AUDIT_CHECKS) if c.appeal]
        appeal = await audits.appeal_audit(
            session=self.session,
            actor=self.provider,
            audit_id=self.audit_id,
            check_ids=appealed,
            reason=APPEAL_REASON,
        )
        await self.session.flush()
        self.appeal_id = appeal.id

    async def decide_appeal(self) -> None:
        decisions = [
            audits.ItemDecision(self.check_ids[i], upheld=c.appeal[0], note=c.appeal[1])
            for i, c in enumerate(AUDIT_CHECKS)
            if c.appeal
        ]
        await audits.decide_appeal(
            session=self.session, actor=self.officer, appeal_id=self.appeal_id, decisions=decisions
        )


class _Silent:
    """The back-filled messages went out long ago: sending them now only clears their numbers and links."""

    def send(self, *, channel: str, recipient: str, body: str) -> None:
        return None


async def load(session: AsyncSession) -> str:
    """Create the demo marketplace in `session`; the caller commits. Returns a summary.

    The base data is dated BASE_DATA_DAY and the tenders' histories happen on their days, the
    session's clock pinned to each moment; it reads the real (or test) clock again afterwards.
    """
    history = History(session, await clock.now(session))
    loaded = _Loaded()
    history.at(BASE_DATA_DAY, partial(_base_data, session, loaded))
    for index in range(len(TENDERS)):
        _TenderStory(history, loaded, index).tell()
    _ContractStory(history, loaded, AWARDED).tell()
    for index, past in zip(PREVIOUS_YEAR, PAST_CONTRACTS, strict=True):
        t = TENDERS[index]
        start = _start_date(t, history.today)
        PastContractStory(
            history,
            past=past,
            contracts=loaded.contracts,
            tender_index=index,
            actors=loaded.actors,
            officer=t.officer,
            awarded=t.finalized,
            periods=lifecycle.periods(start_date=start, count=t.periods, months=t.period_months),
        ).tell()
    scored = Scored()
    tell_scoring(
        history,
        contracts=loaded.contracts,
        tender_indexes=list(PREVIOUS_YEAR),
        officers={i: TENDERS[i].officer for i in PREVIOUS_YEAR},
        actors=loaded.actors,
        scored=scored,
    )
    await history.run()
    for index, t in enumerate(TENDERS):
        reached = loaded.tenders[index].status
        if reached != t.status:
            raise RuntimeError(f"demo tender {index} ended {reached.value}, not {t.status.value}")
    # The residents' texts: sent, they keep neither the phone number nor the link's token.
    while (await outbox.send_notifications(session=session, backend=_Silent()))[0]:
        pass
    certified = await certify(session)

    ratings = sum(1 for d in DELIVERIES if d.rating)
    issued = sorted(certified.issued, key=lambda c: c.provider_id)
    stars = ", ".join(f"{c.stars} stars" if c.rated else "UNRATED" for c in issued)
    return (
        f"demo data loaded: {len(REGIONS)} regions, {len(DEPARTMENTS)} departments, 1 audit firm, "
        f"{len(PROVIDERS)} approved providers, {len(PACKAGES)} service packages, "
        f"{len(ACCOUNTS)} accounts (passwords in README.md), "
        f"{len(TENDERS)} tenders (each state, {len(PREVIOUS_YEAR)} more AWARDED last year); "
        f"1 contract in delivery: {len(DELIVERIES)} deliveries, {ratings} ratings, "
        f"{len(COMPLAINTS)} complaints, "
        f"an audit of period 1 and its appeal; {len(PREVIOUS_YEAR)} completed contracts: "
        f"{scored.finalized} periods finalised, {scored.paid} payments sent (ledger), "
        f"{scored.calculated} CALCULATED; certificates as of {certified.as_of.isoformat()}: {stars}"
    )


async def _base_data(session: AsyncSession, loaded: _Loaded) -> None:
    """Districts, departments, the audit firm, providers with their accounts, the other accounts, packages."""
    regions = {
        r.code: await directory.create_region(
            session=session,
            actor=OPERATOR,
            code=r.code,
            name=r.name,
            kind=r.kind,
            population=r.population,
        )
        for r in REGIONS
    }
    loaded.regions = {code: region.id for code, region in regions.items()}
    organisations: dict[str, dict[str, int]] = {"department_id": {}, "provider_id": {}, "audit_firm_id": {}}
    for name, region_code in DEPARTMENTS.items():
        department = await directory.create_department(
            session=session, actor=OPERATOR, name=name, region_id=regions[region_code].id
        )
        organisations["department_id"][name] = department.id
    firm = await directory.create_audit_firm(
        session=session, actor=OPERATOR, name=AUDIT_FIRM_NAME, credit_code=AUDIT_FIRM_CREDIT_CODE
    )
    organisations["audit_firm_id"][firm.name] = firm.id

    # Registration makes each provider's first account; the rest are made by the operator.
    provider_accounts = {a.works_for: a for a in ACCOUNTS if a.role == Role.PROVIDER}
    first_year = (await clock.now(session)).date().year - 1
    for p in PROVIDERS:
        account = provider_accounts[p.legal_name]
        registration = await providers.register_provider(
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
        loaded.actors[account.email] = accounts.actor_of(registration.user)
        await providers.approve_provider(session=session, actor=OPERATOR, provider_id=provider_id)
        for q in p.qualifications:
            await providers.add_qualification(
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
        user = await accounts.create_user(
            session=session,
            actor=OPERATOR,
            email=account.email,
            password=account.password,
            name=account.name,
            role=account.role,
            **links,
        )
        loaded.actors[account.email] = accounts.actor_of(user)

    for code, spec in PACKAGES.items():
        package = await catalogue.create_service_package(
            session=session, actor=OPERATOR, code=code, spec=spec
        )
        loaded.packages[code] = package.id
