"""Demo marketplace for a first run (`market demo load`): two districts, their purchasing
departments, one account per role, four approved providers, a small catalogue, and one tender
in each state (DRAFT to AWARDED with its contract, UNSUCCESSFUL, CANCELLED).

Everything is built through the services (`market.service`, `market.tendering`,
`contracts.service`), by the platform operator and the demo accounts, so the demo obeys the
same rules as real data. The tenders' histories are back-filled: the session's clock is pinned
to each step's moment (`core.clock.pin`), days before loading. The organisations are fictional; their Unified
Social Credit Codes (统一社会信用代码) are made up but carry correct check digits.
ACCOUNTS is the table the README prints: change one, change the other.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts import service as contracts
from core import clock
from core.auth import Actor, Role
from core.settings import get_settings
from market import service, tendering
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
        "catalogue, providers, tenders from draft to award",
    ),
    DemoAccount(
        "officer.chongming@demo.gov.cn",
        Role.OFFICER,
        "陈卫东",
        "崇明区卫生健康委员会",
        "catalogue, providers, tenders from draft to award",
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
        "auditor@mingjian.demo.cn", Role.AUDITOR, "王磊", AUDIT_FIRM_NAME, "audits contracts (once built)"
    ),
    *(
        DemoAccount(
            email, Role.PROVIDER, name, provider.legal_name, "its qualifications, bids and challenges"
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
class When:
    """A moment of the demo's history: `day` days from the day of loading, at local `time`."""

    day: int
    time: str = "10:00"


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
        max_unit_price="120.00",
        required=(ELDER_CARE_LICENCE,),
        min_valid_bids=2,
        drafted=When(-85, "09:30"),
        published=When(-84, "10:00"),
        deadline=When(-63, "17:00"),
        starts_after=-37,
        questions=(
            DemoQuestion(
                LELING,
                When(-80, "10:15"),
                "服务对象是否包括长期护理保险评估等级为二级至六级的老人？每次60分钟能否分次累计？",
                When(-79, "15:30"),
                "服务对象为经统一需求评估、符合居家照护条件的本区老年人，包括长护险评估二至六级人员；"
                "每次上门服务不少于60分钟，不得分次累计。",
            ),
        ),
        bids=(
            DemoBid(YIKANG, "98.00", When(-78, "14:20"), _YIKANG_CARE, _YIKANG_CAPACITY),
            DemoBid(LELING, "94.00", When(-70, "11:05"), _LELING_CARE, _LELING_CAPACITY),
            DemoBid(YIKANG, "96.50", When(-65, "16:40"), _YIKANG_CARE, _YIKANG_CAPACITY),
        ),
        opened=When(-63, "17:30"),
        evaluations=(
            DemoEvaluation(EVALUATORS[0], When(-62, "09:30"), {YIKANG: 88, LELING: 82}),
            DemoEvaluation(EVALUATORS[1], When(-62, "14:00"), {YIKANG: 86, LELING: 80}),
        ),
        recommended=When(-61, "10:00"),
        challenges=(
            DemoChallenge(
                LELING,
                When(-58, "09:40"),
                "中标候选人持证护理员人数不足以覆盖全区十个街道，请求复核其技术评分。",
                When(-56, "16:00"),
                ChallengeDecision.DISMISSED,
                "经复核，中标候选人提交的养老护理员职业技能等级证书均有效，评审专家评分符合评分细则，质疑不成立。",
            ),
        ),
        finalized=When(-37, "10:00"),
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
)

# When the base data (regions, accounts, providers, catalogue) was set up, before any tender.
BASE_DATA_DAY = When(-100, "09:00")


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
    contracts: int = 0


Step = Callable[[], Awaitable[object]]


class _History:
    """Steps run in the order of their moments, the session's clock pinned to each step's moment.

    Each step is a savepoint: its commit checks (a bid is in before the deadline) and its journal
    events run at its moment, so the journal reads in time order; and when a step fails, the
    caller's rollback leaves nothing behind.
    """

    def __init__(self, session: AsyncSession, today: dt.date):
        self.session, self.today = session, today
        self.steps: list[tuple[dt.datetime, int, Step]] = []

    def moment(self, when: When) -> dt.datetime:
        hour, minute = (int(part) for part in when.time.split(":"))
        local = dt.datetime.combine(
            self.today + dt.timedelta(days=when.day), dt.time(hour, minute), tzinfo=get_settings().zone
        )
        return local.astimezone(dt.UTC)

    def at(self, when: When, step: Step) -> None:
        if when.day >= 0:
            raise ValueError(f"the demo's history lies before the day of loading, not at {when}")
        self.steps.append((self.moment(when), len(self.steps), step))

    async def run(self) -> None:
        try:
            for moment, _, step in sorted(self.steps, key=lambda s: s[:2]):
                clock.pin(self.session, moment)
                async with self.session.begin_nested():
                    await step()
        finally:
            clock.pin(self.session, None)


def _first_of_next_month(day: dt.date) -> dt.date:
    return (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)


class _TenderStory:
    """The steps of one tender's history, done through the services by the demo accounts."""

    def __init__(self, history: _History, loaded: _Loaded, index: int):
        self.history, self.loaded, self.index = history, loaded, index
        self.session, self.t = history.session, TENDERS[index]

    def tell(self) -> None:
        t, at = self.t, self.history.at
        at(t.drafted, self.draft)
        if t.published:
            at(t.published, partial(self.as_officer, tendering.publish_tender))
        for i, q in enumerate(t.questions):
            at(q.asked, partial(self.ask, i, q))
            at(q.answered, partial(self.answer, i, q))
        for b in t.bids:
            at(b.at, partial(self.bid, b))
        if t.opened:
            at(t.opened, partial(self.as_officer, tendering.open_bids))
        for e in t.evaluations:
            at(e.at, partial(self.evaluate, e))
        if t.recommended:
            at(t.recommended, partial(self.as_officer, tendering.recommend_award))
        for i, c in enumerate(t.challenges):
            at(c.filed, partial(self.challenge, i, c))
            at(c.decided, partial(self.decide, i, c))
        if t.finalized:
            at(t.finalized, self.finalize)
        if t.cancelled:
            when, reason = t.cancelled
            at(when, partial(self.as_officer, tendering.cancel_tender, reason=reason))

    @property
    def officer(self) -> Actor:
        return self.loaded.actors[self.t.officer]

    @property
    def tender_id(self) -> int:
        return self.loaded.tenders[self.index].id

    async def draft(self) -> None:
        t, loaded = self.t, self.loaded
        start = _first_of_next_month(self.history.today + dt.timedelta(days=t.starts_after))
        terms = tendering.TenderTerms(
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
        tender = await tendering.create_tender(session=self.session, actor=self.officer, terms=terms)
        loaded.tenders[self.index] = tender

    async def as_officer(self, action, **kwargs) -> None:
        """An action of the tender's officer on the tender (publish, open, recommend, cancel)."""
        await action(session=self.session, actor=self.officer, tender_id=self.tender_id, **kwargs)

    async def ask(self, i: int, q: DemoQuestion) -> None:
        clarification = await tendering.ask_clarification(
            session=self.session,
            actor=self.loaded.actors[q.provider],
            tender_id=self.tender_id,
            question=q.question,
        )
        self.loaded.asked[self.index, i] = clarification.id

    async def answer(self, i: int, q: DemoQuestion) -> None:
        await tendering.answer_clarification(
            session=self.session,
            actor=self.officer,
            clarification_id=self.loaded.asked[self.index, i],
            answer=q.answer,
        )

    async def bid(self, b: DemoBid) -> None:
        submission = await tendering.submit_bid(
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
        await tendering.declare_conflicts(
            session=self.session, actor=evaluator, tender_id=self.tender_id, provider_ids=[]
        )
        for bidder, score in e.scores.items():
            bid_id = self.loaded.bids[self.index, bidder]
            await tendering.score_bid(session=self.session, actor=evaluator, bid_id=bid_id, score=score)

    async def challenge(self, i: int, c: DemoChallenge) -> None:
        challenge = await tendering.file_challenge(
            session=self.session,
            actor=self.loaded.actors[c.provider],
            tender_id=self.tender_id,
            reason=c.reason,
        )
        self.loaded.challenged[self.index, i] = challenge.id

    async def decide(self, i: int, c: DemoChallenge) -> None:
        await tendering.decide_challenge(
            session=self.session,
            actor=self.officer,
            challenge_id=self.loaded.challenged[self.index, i],
            decision=c.decision,
            note=c.note,
        )

    async def finalize(self) -> None:
        await contracts.finalize_award(session=self.session, actor=self.officer, tender_id=self.tender_id)
        self.loaded.contracts += 1


async def load(session: AsyncSession) -> str:
    """Create the demo marketplace in `session`; the caller commits. Returns a summary.

    The base data is dated BASE_DATA_DAY and the tenders' histories happen on their days, the
    session's clock pinned to each moment; it reads the real (or test) clock again afterwards.
    """
    history = _History(session, clock.today(await clock.now(session)))
    loaded = _Loaded()
    history.at(BASE_DATA_DAY, partial(_base_data, session, loaded))
    for index in range(len(TENDERS)):
        _TenderStory(history, loaded, index).tell()
    await history.run()
    for index, t in enumerate(TENDERS):
        reached = loaded.tenders[index].status
        if reached != t.status:
            raise RuntimeError(f"demo tender {index} ended {reached.value}, not {t.status.value}")

    return (
        f"demo data loaded: {len(REGIONS)} regions, {len(DEPARTMENTS)} departments, 1 audit firm, "
        f"{len(PROVIDERS)} approved providers, {len(PACKAGES)} service packages, "
        f"{len(ACCOUNTS)} accounts (passwords in README.md), "
        f"{len(TENDERS)} tenders (one in each state) and {loaded.contracts} contract"
    )


async def _base_data(session: AsyncSession, loaded: _Loaded) -> None:
    """Districts, departments, the audit firm, providers with their accounts, the other accounts, packages."""
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
    loaded.regions = {code: region.id for code, region in regions.items()}
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
        loaded.actors[account.email] = service.actor_of(registration.user)
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
        user = await service.create_user(
            session=session,
            actor=OPERATOR,
            email=account.email,
            password=account.password,
            name=account.name,
            role=account.role,
            **links,
        )
        loaded.actors[account.email] = service.actor_of(user)

    for code, spec in PACKAGES.items():
        package = await service.create_service_package(session=session, actor=OPERATOR, code=code, spec=spec)
        loaded.packages[code] = package.id
