"""The station console, as the gateway serves it: its static files (services/gateway/console, at
the site root `/` and under `/console/`) and its vocabulary (`/console/vocabulary.json`).

The vocabulary is built at request time from services/contracts and the county's settings, so
the console's choices (categories and their age rules, risk levels, visit modes, the county's
townships and villages …) are the ones the services check; only the Chinese labels live here.
"""
from pathlib import Path

from werkzeug.utils import send_from_directory

from contracts import clients
from contracts.events import visits

ROOT = Path(__file__).parent / "console"

LABELS = {
    "age_groups": {"elderly": "老年人", "child": "儿童", "other": "其他"},
    "sexes": {"male": "男", "female": "女"},
    "risk_levels": {"low": "低", "medium": "中", "high": "高", "critical": "极高"},
    "risk_flags": {
        "self_harm": "有自伤倾向", "lives_alone": "独居", "no_guardian": "无监护人",
        "family_mental_illness": "家庭成员有精神疾病", "chronic_illness": "慢性病",
        "domestic_violence": "家庭暴力", "no_income": "无收入", "dementia": "认知障碍"},
    "statuses": {"active": "在册", "closed": "已结案"},
    "close_reasons": {"moved": "迁出", "deceased": "去世", "no_longer_eligible": "不再符合条件",
                      "goals_met": "目标达成", "other": "其他"},
    "disability_types": {"visual": "视力", "hearing": "听力", "speech": "言语", "physical": "肢体",
                         "intellectual": "智力", "mental": "精神", "multiple": "多重"},
    "visit_kinds": {"routine": "常规走访", "verification": "核查走访"},
    "visit_statuses": {"scheduled": "已排期", "due": "到期", "overdue": "逾期", "done": "已完成",
                       "missed": "未遇", "cancelled": "已取消"},
    "visit_modes": {"home": "入户", "phone": "电话", "station": "站内", "other": "其他"},
    "need_kinds": {"money": "资金", "goods": "物资", "service": "服务", "referral": "转介"},
    "missed_reasons": {"not_home": "不在家", "refused": "拒绝", "unreachable": "联系不上",
                       "hospitalised": "住院", "away": "外出", "other": "其他"},
    "escalations": {"none": "无", "township": "乡镇", "county": "县级"},
}
CODES = {
    "age_groups": clients.AGE_GROUPS, "sexes": clients.SEXES,
    "risk_levels": clients.RISK_LEVELS, "risk_flags": clients.RISK_FLAGS,
    "statuses": clients.STATUSES, "close_reasons": clients.CLOSE_REASONS,
    "disability_types": clients.DISABILITY_TYPES, "visit_kinds": visits.VISIT_KINDS,
    "visit_statuses": visits.STATUSES, "visit_modes": visits.MODES,
    "need_kinds": visits.NEED_KINDS, "missed_reasons": visits.MISSED_REASONS,
    "escalations": visits.ESCALATION_LEVELS,
}


def labelled(name):
    """The codes of one list, in the contract's order, each with its Chinese label (the code
    itself where none is written yet)."""
    return [{"code": code, "label": LABELS[name].get(code, code)} for code in CODES[name]]


def vocabulary(county):
    """Everything the console chooses from, as the services check it today."""
    return {
        "categories": [{"code": code, "label": label, "min_age": lo, "max_age": hi,
                        "child": code in clients.CHILD_CATEGORIES}
                       for code, (label, lo, hi) in clients.CATEGORIES.items()],
        **{name: labelled(name) for name in CODES},
        "adult_age": 18,                       # under it a client needs a guardian
        "disability_category": "disabled",     # the category that needs a disability (type, grade)
        "county": {"code": county.code, "name": county.name},
        "townships": [{"code": t.code, "name": t.name,
                       "villages": [{"code": code, "name": name}
                                    for code, name in t.villages.items()]}
                      for t in county.townships.values()],
    }


def static(request, path):
    """A file of the console (404 for anything outside it); revalidated on each load so a new
    version is seen at once (the service worker keeps its own copy for offline use)."""
    response = send_from_directory(ROOT, path, request.environ, max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    if path == "sw.js":       # served under /console/, it looks after the whole site
        response.headers["Service-Worker-Allowed"] = "/"
    return response
