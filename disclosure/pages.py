"""The public portal's pages (SPEC §7), server-rendered in the portal's frame (`disclosure.portal`):

- `/portal`: open tenders with a search (keyword, region, category, department, closing soon; a GET
  form, paginated), the latest final awards and the certified providers with their stars;
- `/portal/tenders/{id}`: a tender's notice with its correction notices and answered questions, the
  opening record once opened, and once final the award notice with every score of every bid and
  the challenges' outcome; links to its OCDS release package and record;
- `/portal/contracts/{id}`: a contract's summary and its periods' scorecards;
- `/portal/providers/{id}`: a provider's profile, stars, certificate and awards.

What each page may show is decided in `disclosure.public`; every page reads in a fixed number of
statements. An unknown, draft or pending id gets a 404 page of the same look, a search parameter
no form sends a 400 page. `/` leads here (app.py).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from core.db import sqlite_writes
from disclosure import public
from disclosure.portal import render
from disclosure.red_flags import service as red_flags
from market.models import TenderStatus

TEXTS: dict[str, dict[str, str]] = {
    "zh": {
        "home_title": "政府购买服务信息公开",
        "home_intro": "这里公开政府购买公共服务的采购公告、开标记录、中标结果、合同和履约评价，"
        "以及服务机构的星级认证。",
        "search_heading": "正在招标的项目",
        "keyword": "关键词（项目名称）",
        "region": "区域",
        "category": "服务类别",
        "department": "采购单位",
        "any": "全部",
        "closing_soon": "7 天内截止",
        "search": "查询",
        "clear": "清除条件",
        "results": "共 {n} 个项目",
        "no_results": "没有符合条件的正在招标的项目。",
        "page_of": "第 {page} 页，共 {pages} 页",
        "previous": "上一页",
        "next": "下一页",
        "pagination": "分页",
        "deadline": "投标截止",
        "max_unit_price": "最高限价（元/{unit}）",
        "ceiling": "最高限价（元）",
        "quantity": "采购数量",
        "awards_heading": "最新中标结果",
        "no_awards": "暂无中标结果。",
        "winner": "中标服务机构",
        "unit_price": "中标单价（元）",
        "contract": "合同",
        "contract_link": "查看合同",
        "certified_heading": "星级认证服务机构",
        "no_certified": "暂无有效的星级认证。",
        "stars_text": "{n} 星",
        "unrated": "未评级",
        "certificate": "认证证书",
        "tender": "项目",
        "status": "状态",
        "status_PUBLISHED": "招标中",
        "status_EVALUATING": "评审中",
        "status_AWARD_PENDING": "中标候选人公示（质疑期）",
        "status_AWARDED": "已成交",
        "status_UNSUCCESSFUL": "流标",
        "status_CANCELLED": "已终止",
        "notice_heading": "采购公告",
        "department_label": "采购单位",
        "package": "服务包",
        "periods": "考核期",
        "periods_value": "{n} 期，每期 {months} 个月",
        "start_date": "合同开始日期",
        "published_at": "发布时间",
        "version": "公告版本",
        "version_value": "第 {n} 版",
        "min_valid_bids": "有效投标不少于",
        "min_valid_bids_value": "{n} 家",
        "weights": "评分权重",
        "weights_value": "价格 {price}%，服务质量 {quality}%，履约记录 {record}%",
        "required": "投标人须具备的资质",
        "none": "无",
        "kpis_heading": "合同考核指标",
        "kpi": "指标",
        "target": "目标",
        "weight": "权重",
        "higher": "越高越好",
        "lower": "越低越好",
        "amendments_heading": "更正公告",
        "no_amendments": "本项目没有更正公告。",
        "amendment_title": "第 {n} 版更正（{when}）",
        "reason": "更正原因",
        "field": "更正事项",
        "change_title": "项目名称",
        "change_quantity": "采购数量",
        "change_maxUnitPrice": "最高限价（元）",
        "change_bidDeadline": "投标截止时间",
        "change_minValidBids": "有效投标最少家数",
        "change_requiredQualifications": "投标人须具备的资质",
        "change_startDate": "合同开始日期",
        "before": "更正前",
        "after": "更正后",
        "clarifications_heading": "澄清答疑",
        "no_clarifications": "暂无公开的澄清答疑。",
        "question": "问",
        "answer": "答",
        "answered_at": "答复时间",
        "sealed_note": "投标截止前，投标文件密封保存，任何人（包括采购单位）都无法查看投标情况。",
        "opening_heading": "开标记录",
        "opened_at": "开标时间",
        "bidder": "投标人",
        "bid_price": "投标单价（元）",
        "submitted_at": "提交时间",
        "receipt": "投标回执（SHA-256）",
        "no_opening": "开标时没有投标。",
        "award_pending_note": "评审已推荐中标候选人，质疑期至 {when}。"
        "质疑期满且无未决质疑后公布中标结果和全部评分。",
        "evaluating_note": "已开标，正在评审。评审结束并确定中标后公布全部评分。",
        "closed_heading": "终止或流标原因",
        "award_heading": "中标公告",
        "flags_heading": "风险提示（红旗指标）",
        "flags_intro": "以下指标参照开放合同伙伴关系（Open Contracting Partnership）Cardinal 红旗指标计算，"
        "提示值得关注之处，并不等于认定违规。",
        "no_flags": "本次采购未触发红旗指标。",
        "flag_line": "数值 {value}，{comparison}阈值 {threshold}",
        "cmp_BELOW": "低于",
        "cmp_AT_MOST": "不高于",
        "cmp_AT_LEAST": "不低于",
        "flag_R003": "投标期过短",
        "flag_R018": "仅一家有效投标",
        "flag_R024": "次低价与中标价过于接近",
        "flag_R028": "投标报价相同",
        "flag_R035": "除中标人外其余投标均被否决",
        "flag_R036": "最低报价被否决",
        "flag_R038": "否决投标比例过高",
        "flag_R058": "中标价大幅低于次低价",
        "flag_NEAR_CEILING": "中标价接近最高限价",
        "flag_WIN_ROTATION": "投标人轮流中标",
        "fig_awardedTenders": "已成交项目数",
        "fig_awardedTendersCompared": "参与比较的成交项目数",
        "fig_biddersAtThisPrice": "同价投标人数",
        "fig_disqualifiedBids": "被否决投标数",
        "fig_lowestDisqualifiedBid": "被否决的最低报价",
        "fig_lowestValidBid": "最低有效报价",
        "fig_maxUnitPrice": "最高限价",
        "fig_otherBiddersDisqualified": "被否决的其他投标人数",
        "fig_price": "报价",
        "fig_secondLowestValidBid": "次低有效报价",
        "fig_submissionPeriodDays": "投标期（天）",
        "fig_submittedBids": "投标数",
        "fig_tendersBidTogether": "共同投标项目数",
        "fig_validBids": "有效投标数",
        "fig_winningBid": "中标报价",
        "fig_wonByOtherBidder": "另一投标人中标数",
        "fig_wonByWinner": "中标人中标数",
        "awarded_at": "成交时间",
        "scores_heading": "全部投标的评分",
        "scores_caption": "每个有效投标的各项得分（0–100 分）",
        "rank": "排名",
        "bid_status": "投标状态",
        "bid_VALID": "有效",
        "bid_INVALID": "无效",
        "bid_SUBMITTED": "已提交",
        "bid_WITHDRAWN": "已撤回",
        "price_score": "价格分",
        "quality_score": "服务质量分",
        "evaluator_scores": "各评审专家评分",
        "record_score": "履约记录分",
        "record_stars": "投标截止时星级",
        "total_score": "综合得分",
        "invalid_reason": "无效原因",
        "abnormally_low": "异常低价",
        "challenges_heading": "质疑处理结果",
        "no_challenges": "质疑期内没有供应商提出质疑。",
        "challenge_line": "{filed} 收到质疑，{decided} 作出决定：{decision}",
        "challenge_open": "{filed} 收到质疑，尚未作出决定",
        "decision_DISMISSED": "质疑不成立，驳回",
        "decision_UPHELD": "质疑成立，重新评审",
        "ocds_heading": "数据下载",
        "ocds_releases": "下载 OCDS 发布数据包（releases.json）",
        "ocds_record": "下载 OCDS 记录（record.json）",
        "contract_title": "合同公开信息",
        "contract_of": "采购项目",
        "provider": "服务机构",
        "region_label": "服务区域",
        "contract_value": "合同金额（元）",
        "contract_unit_price": "合同单价（元）",
        "contract_status": "合同状态",
        "contract_ACTIVE": "履约中",
        "contract_SUSPENDED": "已暂停",
        "contract_COMPLETED": "已完成",
        "contract_TERMINATED": "已终止",
        "signed_at": "签订时间",
        "audit_firm": "第三方评估机构",
        "not_assigned": "尚未指定",
        "score_weights": "考核权重",
        "score_weights_value": "居民满意度 {s}%，考核指标 {k}%，第三方评估 {a}%",
        "holdback": "质量保证金比例",
        "scorecards_heading": "各考核期评分",
        "scorecards_caption": "每个考核期的评分和支付档次",
        "period": "考核期",
        "period_value": "第 {n} 期",
        "dates": "起止日期",
        "dates_value": "{start} 至 {end}",
        "satisfaction": "居民满意度",
        "kpi_score": "考核指标得分",
        "audit_score": "第三方评估得分",
        "composite": "综合得分",
        "tier": "支付档次",
        "tier_value": "{tier} 档（按结算基数的 {rate}% 支付）",
        "ratings_counted": "计入的居民评价",
        "verified_units": "核实的服务量",
        "not_scored": "尚未评分",
        "provider_title": "服务机构信息",
        "credit_code": "统一社会信用代码",
        "kind": "机构类型",
        "kind_ENTERPRISE": "企业",
        "kind_SOCIAL_ORGANISATION": "社会组织",
        "kind_PUBLIC_INSTITUTION": "事业单位",
        "provider_status": "状态",
        "provider_ACTIVE": "正常",
        "provider_SUSPENDED": "已暂停参与政府购买服务",
        "provider_DEBARRED": "已被禁止参与政府购买服务",
        "regions_served": "服务区域",
        "stars": "服务质量星级",
        "no_certificate": "暂无有效的星级认证。",
        "certificate_link": "核验证书 {code}",
        "valid_until": "有效期至 {day}",
        "history_heading": "中标和合同",
        "no_history": "暂无中标项目。",
        "not_found_title": "未找到",
        "not_found_text": "没有找到这个页面：编号不存在，或者该信息尚未公开。",
        "bad_request_title": "查询条件有误",
        "bad_request_text": "查询条件“{name}”无法识别。请回到首页重新查询。",
        "back_home": "返回首页",
    },
    "en": {
        "home_title": "Government purchase of public services: disclosure",
        "home_intro": "Tender notices, opening records, awards, contracts and their performance scores, and "
        "the providers' star certificates of publicly funded services.",
        "search_heading": "Open tenders",
        "keyword": "Keyword (tender title)",
        "region": "Region",
        "category": "Service category",
        "department": "Purchasing department",
        "any": "Any",
        "closing_soon": "Closing within 7 days",
        "search": "Search",
        "clear": "Clear",
        "results": "{n} tenders",
        "no_results": "No open tender matches.",
        "page_of": "Page {page} of {pages}",
        "previous": "Previous page",
        "next": "Next page",
        "pagination": "Pages",
        "deadline": "Bid deadline",
        "max_unit_price": "Ceiling price (CNY per {unit})",
        "ceiling": "Ceiling price (CNY)",
        "quantity": "Quantity",
        "awards_heading": "Latest awards",
        "no_awards": "No awards yet.",
        "winner": "Provider",
        "unit_price": "Unit price (CNY)",
        "contract": "Contract",
        "contract_link": "See the contract",
        "certified_heading": "Certified providers",
        "no_certified": "No valid star certificate yet.",
        "stars_text": "{n} stars",
        "unrated": "Unrated",
        "certificate": "Certificate",
        "tender": "Tender",
        "status": "Status",
        "status_PUBLISHED": "Open for bids",
        "status_EVALUATING": "Under evaluation",
        "status_AWARD_PENDING": "Award recommended (challenge period)",
        "status_AWARDED": "Awarded",
        "status_UNSUCCESSFUL": "Unsuccessful",
        "status_CANCELLED": "Cancelled",
        "notice_heading": "Tender notice",
        "department_label": "Purchasing department",
        "package": "Service package",
        "periods": "Periods",
        "periods_value": "{n} periods of {months} months",
        "start_date": "Contract starts",
        "published_at": "Published",
        "version": "Notice version",
        "version_value": "Version {n}",
        "min_valid_bids": "Valid bids needed",
        "min_valid_bids_value": "at least {n}",
        "weights": "Evaluation weights",
        "weights_value": "price {price}%, quality {quality}%, track record {record}%",
        "required": "Qualifications bidders must hold",
        "none": "None",
        "kpis_heading": "Contract KPIs",
        "kpi": "Indicator",
        "target": "Target",
        "weight": "Weight",
        "higher": "higher is better",
        "lower": "lower is better",
        "amendments_heading": "Correction notices",
        "no_amendments": "This tender has no correction notice.",
        "amendment_title": "Version {n} ({when})",
        "reason": "Reason",
        "field": "What changed",
        "change_title": "Title",
        "change_quantity": "Quantity",
        "change_maxUnitPrice": "Ceiling price (CNY)",
        "change_bidDeadline": "Bid deadline",
        "change_minValidBids": "Valid bids needed",
        "change_requiredQualifications": "Qualifications bidders must hold",
        "change_startDate": "Contract starts",
        "before": "Before",
        "after": "After",
        "clarifications_heading": "Clarifications",
        "no_clarifications": "No public clarification yet.",
        "question": "Question",
        "answer": "Answer",
        "answered_at": "Answered",
        "sealed_note": "Until the deadline bids stay sealed: nobody, the purchasing department included, can "
        "see anything about them.",
        "opening_heading": "Opening record",
        "opened_at": "Opened",
        "bidder": "Bidder",
        "bid_price": "Unit price (CNY)",
        "submitted_at": "Submitted",
        "receipt": "Bid receipt (SHA-256)",
        "no_opening": "No bid was opened.",
        "award_pending_note": "The evaluation recommended a bidder; the challenge period runs until {when}. "
        "The award and every score are published when it has passed with no challenge open.",
        "evaluating_note": "The bids were opened and are being evaluated. Every score is published with the "
        "award.",
        "closed_heading": "Why it was closed",
        "award_heading": "Award notice",
        "flags_heading": "Red flags",
        "flags_intro": "Computed after the Open Contracting Partnership's Cardinal red-flag indicators: "
        "signs worth a closer look, not findings of wrongdoing.",
        "no_flags": "No red flag on this award.",
        "flag_line": "value {value}, {comparison} the threshold {threshold}",
        "cmp_BELOW": "below",
        "cmp_AT_MOST": "at most",
        "cmp_AT_LEAST": "at least",
        "fig_awardedTenders": "awarded tenders",
        "fig_awardedTendersCompared": "awarded tenders compared",
        "fig_biddersAtThisPrice": "bidders at this price",
        "fig_disqualifiedBids": "disqualified bids",
        "fig_lowestDisqualifiedBid": "lowest disqualified bid",
        "fig_lowestValidBid": "lowest valid bid",
        "fig_maxUnitPrice": "maximum unit price",
        "fig_otherBiddersDisqualified": "other bidders disqualified",
        "fig_price": "price",
        "fig_secondLowestValidBid": "second-lowest valid bid",
        "fig_submissionPeriodDays": "submission period (days)",
        "fig_submittedBids": "submitted bids",
        "fig_tendersBidTogether": "tenders bid together",
        "fig_validBids": "valid bids",
        "fig_winningBid": "winning bid",
        "fig_wonByOtherBidder": "won by the other bidder",
        "fig_wonByWinner": "won by the winner",
        "awarded_at": "Awarded",
        "scores_heading": "Every bid's scores",
        "scores_caption": "The scores of every bid (0–100)",
        "rank": "Rank",
        "bid_status": "Bid status",
        "bid_VALID": "Valid",
        "bid_INVALID": "Invalid",
        "bid_SUBMITTED": "Submitted",
        "bid_WITHDRAWN": "Withdrawn",
        "price_score": "Price score",
        "quality_score": "Quality score",
        "evaluator_scores": "Each evaluator's score",
        "record_score": "Track-record score",
        "record_stars": "Stars at the deadline",
        "total_score": "Total",
        "invalid_reason": "Why invalid",
        "abnormally_low": "Abnormally low price",
        "challenges_heading": "Challenges",
        "no_challenges": "No bidder challenged the recommendation.",
        "challenge_line": "Challenge received {filed}, decided {decided}: {decision}",
        "challenge_open": "Challenge received {filed}, not decided yet",
        "decision_DISMISSED": "dismissed",
        "decision_UPHELD": "upheld, the bids were evaluated again",
        "ocds_heading": "Open data",
        "ocds_releases": "Download the OCDS release package (releases.json)",
        "ocds_record": "Download the OCDS record (record.json)",
        "contract_title": "Contract",
        "contract_of": "Tender",
        "provider": "Provider",
        "region_label": "Region",
        "contract_value": "Contract value (CNY)",
        "contract_unit_price": "Unit price (CNY)",
        "contract_status": "Status",
        "contract_ACTIVE": "In delivery",
        "contract_SUSPENDED": "Suspended",
        "contract_COMPLETED": "Completed",
        "contract_TERMINATED": "Terminated",
        "signed_at": "Signed",
        "audit_firm": "Independent auditor",
        "not_assigned": "Not assigned yet",
        "score_weights": "Score weights",
        "score_weights_value": "residents' satisfaction {s}%, KPIs {k}%, independent audit {a}%",
        "holdback": "Holdback",
        "scorecards_heading": "Period scores",
        "scorecards_caption": "Each period's scores and payment tier",
        "period": "Period",
        "period_value": "Period {n}",
        "dates": "Dates",
        "dates_value": "{start} to {end}",
        "satisfaction": "Satisfaction",
        "kpi_score": "KPI score",
        "audit_score": "Audit score",
        "composite": "Score",
        "tier": "Payment tier",
        "tier_value": "{tier} ({rate}% of the base paid)",
        "ratings_counted": "Ratings counted",
        "verified_units": "Verified units",
        "not_scored": "Not scored yet",
        "provider_title": "Provider",
        "credit_code": "Unified Social Credit Code",
        "kind": "Kind",
        "kind_ENTERPRISE": "Company",
        "kind_SOCIAL_ORGANISATION": "Social organisation",
        "kind_PUBLIC_INSTITUTION": "Public institution",
        "provider_status": "Status",
        "provider_ACTIVE": "Active",
        "provider_SUSPENDED": "Suspended from publicly funded services",
        "provider_DEBARRED": "Debarred from publicly funded services",
        "regions_served": "Regions served",
        "stars": "Service quality stars",
        "no_certificate": "No valid star certificate.",
        "certificate_link": "Check certificate {code}",
        "valid_until": "valid until {day}",
        "history_heading": "Awards and contracts",
        "no_history": "No award yet.",
        "not_found_title": "Not found",
        "not_found_text": "There is no such page: the number does not exist, or the information is not "
        "public.",
        "bad_request_title": "The search cannot be read",
        "bad_request_text": "The search field “{name}” has a value the form does not send. Search again from "
        "the home page.",
        "back_home": "Back to the home page",
    },
}

TEXTS["en"].update({f"flag_{code.value}": title for code, title in red_flags.TITLES.items()})


def _percent(weight: float) -> str:
    """A weight (0.3) as a percentage without trailing zeros (30)."""
    return f"{Decimal(str(weight)) * 100:f}".rstrip("0").rstrip(".")


def _score(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _stars(n: int | None) -> str:
    return "★" * (n or 0) + "☆" * (5 - (n or 0))


HELPERS = {
    "percent": _percent,
    "score": _score,
    "stars": _stars,
    "iso": dt.datetime.fromisoformat,
    "date": dt.date.fromisoformat,
}


def _object_id(text: str) -> int | None:
    """A path's id; None for anything no database row has (answered with the 404 page)."""
    return int(text) if public.is_number(text) and 1 <= int(text) <= public.MAX_ID else None


async def _tender_with_flags(session: AsyncSession, tender_id: int):
    """The tender's page and, once its award is final, its red flags (None before: not public yet)."""
    page = await public.tender_page(session, tender_id)
    if page is None:
        return None
    if page.line.tender.status != TenderStatus.AWARDED:
        return page, None
    flags = await red_flags.flags_for_tenders(session, [tender_id])
    return page, flags.get(tender_id, [])


def not_found(request: Request) -> HTMLResponse:
    return render(request, "portal_problem.html", TEXTS, status=404, kind="not_found", field="", **HELPERS)


def routes(sessionmaker: async_sessionmaker[AsyncSession]) -> list[Route]:
    """The portal's pages."""

    async def read(reader, *args):
        with sqlite_writes(False):
            async with sessionmaker() as session:
                return await reader(session, *args)

    async def home(request: Request) -> Response:
        try:
            search = public.parse_search(request.query_params)
        except public.BadSearch as bad:
            return render(request, "portal_problem.html", TEXTS, status=400, kind="bad_request",
                          field=str(bad), **HELPERS)  # fmt: skip
        found = await read(public.home, search)
        return render(request, "portal_home.html", TEXTS, home=found, search=search, **HELPERS)

    async def tender(request: Request) -> Response:
        tender_id = _object_id(request.path_params["id"])
        found = None if tender_id is None else await read(_tender_with_flags, tender_id)
        if found is None:
            return not_found(request)
        page, flags = found
        return render(
            request, "portal_tender.html", TEXTS, page=page, tender=page.line.tender, flags=flags, **HELPERS
        )

    async def contract(request: Request) -> Response:
        contract_id = _object_id(request.path_params["id"])
        found = None if contract_id is None else await read(public.contract_page, contract_id)
        if found is None:
            return not_found(request)
        return render(request, "portal_contract.html", TEXTS, page=found, contract=found.contract, **HELPERS)

    async def provider(request: Request) -> Response:
        provider_id = _object_id(request.path_params["id"])
        found = None if provider_id is None else await read(public.provider_page, provider_id)
        if found is None:
            return not_found(request)
        return render(request, "portal_provider.html", TEXTS, page=found, provider=found.provider, **HELPERS)

    return [
        Route("/portal", home, methods=["GET"], name="portal_home"),
        Route("/portal/tenders/{id}", tender, methods=["GET"], name="portal_tender"),
        Route("/portal/contracts/{id}", contract, methods=["GET"], name="portal_contract"),
        Route("/portal/providers/{id}", provider, methods=["GET"], name="portal_provider"),
    ]
