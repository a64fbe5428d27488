"""`hub import workers` and `hub import volunteers`: a county's spreadsheets of social workers
or volunteers (CSV or XLSX).

Each row becomes the body of `POST /workers` or `POST /volunteers` (Chinese or English headers,
Chinese certificate levels and township names accepted), checked by the API's schema and
registered by its use case, so it gets the same validation, encryption and events. The reading,
checking, reporting and the one transaction for the whole file are hub.sheets'.
"""
from contracts import idnumber
from hub import sheets
from hub.sheets import Column, to_date, to_int
from resources import schemas, volunteers, workers

LEVEL_WORDS = {"助理社会工作师": "assistant", "助理社工师": "assistant", "助理": "assistant",
               "初级": "assistant", "社会工作师": "intermediate", "社工师": "intermediate",
               "中级": "intermediate", "高级社会工作师": "senior", "高级社工师": "senior",
               "高级": "senior"}
NONE_WORDS = frozenset({"无", "未持证", "none", "-"})
TOWNSHIP = Column("township_code", ("乡镇代码", "乡镇", "所属乡镇", "站点", "乡镇社工站"))


def certificate_level(value):
    if value.lower() in NONE_WORDS:
        return None
    return LEVEL_WORDS.get(value, value.lower())


class ResourcesImport(sheets.Importer):
    """What the two share: township names accepted, rows registered one at a time."""
    service = "resources"
    register = None                 # the use case registering one record (a staticmethod)

    def refine(self, settings, body):
        """A township given by its name (尧渡镇) -> its code; codes and unknown names as they are."""
        if "township_code" in body:
            by_name = {t.name: code for code, t in settings.county.townships.items()}
            body["township_code"] = by_name.get(body["township_code"], body["township_code"])
        return body

    def write(self, tx, settings, bodies, actor):
        return sheets.one_at_a_time(self.register, tx, settings, bodies, actor)


class WorkerImport(ResourcesImport):
    kind = "workers"
    help = "Import social workers from a CSV or XLSX file (Chinese or English column headers)."
    schema = schemas.WorkerCreateSchema
    register = staticmethod(workers.register)
    columns = (
        Column("name", ("姓名",)), Column("staff_code", ("工号", "人员编号")), TOWNSHIP,
        Column("certificate_level", ("证书等级", "持证等级", "职业资格"), certificate_level),
        Column("certified_year", ("取证年份", "发证年份", "取得年份"), to_int),
        Column("weekly_capacity", ("每周走访能力", "每周走访量", "周走访量"), to_int),
        Column("effective_date", ("入职日期", "加入日期"), to_date),
    )
    unique = {"staff_code": str}


class VolunteerImport(ResourcesImport):
    kind = "volunteers"
    help = "Import real-name volunteers from a CSV or XLSX file (Chinese or English headers)."
    schema = schemas.VolunteerCreateSchema
    register = staticmethod(volunteers.register)
    columns = (
        Column("name", ("姓名",)),
        Column("id_number", ("身份证号", "身份证号码", "公民身份号码"), exact_text=True),
        Column("phone", ("联系电话", "电话", "手机", "手机号")), TOWNSHIP,
        Column("registered_on", ("注册日期", "登记日期"), to_date),
    )
    unique = {"id_number": lambda value: idnumber.parse(value).number}


WORKERS = WorkerImport()
VOLUNTEERS = VolunteerImport()
