"""`hub import clients`: a county's existing client spreadsheet (CSV or XLSX) into the registry.

Each row becomes the body of `POST /clients` (Chinese or English column headers; Chinese names
of categories, risk levels and disability types accepted), checked by ClientCreateSchema and
registered by registry.register_all, as the API does: client, history and event together. The
reading, checking, reporting and the one transaction for the whole file are hub.sheets'.
"""
from contracts import idnumber
from contracts.clients import CATEGORIES
from hub import sheets
from hub.sheets import Column, to_date, word_list, words, yes_no
from intake import registry
from intake.schemas import ClientCreateSchema

CATEGORY_WORDS = {
    **{code: code for code in CATEGORIES},
    **{zh: code for code, (zh, _, _) in CATEGORIES.items()},
    "孤寡老人": "solitary_elderly", "独居老人": "solitary_elderly",
    "孤儿": "unsupported_child", "事实无人抚养儿童": "unsupported_child",
    "残疾": "disabled", "特困": "extreme_poverty", "特困供养人员": "extreme_poverty",
    "低保": "minimum_living_allowance", "低保户": "minimum_living_allowance",
}
RISK_LEVEL_WORDS = {"低": "low", "中": "medium", "高": "high", "危急": "critical",
                    "低风险": "low", "中风险": "medium", "高风险": "high", "极高": "critical"}
RISK_FLAG_WORDS = {
    "自伤": "self_harm", "自残": "self_harm", "自伤史": "self_harm", "独居": "lives_alone",
    "无监护人": "no_guardian", "家庭精神疾病": "family_mental_illness",
    "家庭成员精神疾病": "family_mental_illness", "慢性病": "chronic_illness",
    "家庭暴力": "domestic_violence", "家暴": "domestic_violence", "无收入": "no_income",
    "失智": "dementia", "认知障碍": "dementia", "老年痴呆": "dementia",
}
DISABILITY_WORDS = {"视力": "visual", "听力": "hearing", "言语": "speech", "肢体": "physical",
                    "智力": "intellectual", "精神": "mental", "多重": "multiple"}
GRADE_WORDS = {"一": "1", "二": "2", "三": "3", "四": "4"}


def disability_type(value):
    """'肢体残疾', '肢体' -> 'physical'."""
    stem = value[:-2] if value.endswith("残疾") else value
    return DISABILITY_WORDS.get(stem, value.lower())


def grade(value):
    """'二级', '二', '2' -> '2'."""
    value = value.removesuffix("级").strip()
    return GRADE_WORDS.get(value, value)


def id_number_key(value):
    return idnumber.parse(value).number


class ClientImport(sheets.Importer):
    kind = "clients"
    help = "Import clients from a CSV or XLSX file (Chinese or English column headers)."
    service = "intake"
    schema = ClientCreateSchema
    columns = (
        Column("name", ("姓名",)),
        Column("id_number", ("身份证号", "身份证号码", "公民身份号码"), exact_text=True),
        Column("phone", ("联系电话", "电话", "手机", "手机号", "手机号码")),
        Column("village_code", ("村(社区)代码", "村代码", "社区代码")),
        Column("categories", ("类别", "对象类别"), word_list(CATEGORY_WORDS)),
        Column("risk_level", ("风险等级",), words(RISK_LEVEL_WORDS)),
        Column("risk_flags", ("风险标记",), word_list(RISK_FLAG_WORDS)),
        Column("disability_type", ("残疾类别",), disability_type, path=("disability", "type")),
        Column("disability_grade", ("残疾等级",), grade, path=("disability", "grade")),
        Column("guardian_name", ("监护人姓名", "监护人"), path=("guardian", "name")),
        Column("guardian_phone", ("监护人电话", "监护人联系电话"), path=("guardian", "phone")),
        Column("guardian_relation", ("监护人关系", "与监护人关系"), path=("guardian", "relation")),
        Column("consent_given", ("知情同意", "是否同意"), yes_no, path=("consent", "given")),
        Column("consent_date", ("同意日期",), to_date, path=("consent", "date")),
        Column("recorded_by", ("登记人",), path=("consent", "recorded_by")),
        Column("effective_date", ("登记日期",), to_date),
    )
    unique = {"id_number": id_number_key}
    audit_action = "client.import"

    def write(self, tx, settings, bodies, actor):
        # register_all writes nothing for a row it refuses: no savepoint per row needed
        return registry.register_all(tx, settings, [(body, actor) for body in bodies])


CLIENTS = ClientImport()
