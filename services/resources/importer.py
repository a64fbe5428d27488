"""`hub import workers`, `hub import volunteers` and `hub import certificates`: a county's
spreadsheets of social workers, volunteers or certificate holders (CSV or XLSX).

Each row becomes the body of `POST /workers`, `POST /volunteers` or `POST /certificates`
(Chinese or English headers, Chinese certificate levels and township names accepted), checked by
the API's schema and registered by its use case, so it gets the same validation, encryption and
events. The civil-affairs roster of certificate holders is kept up to date: a row whose
certificate number is known updates that holder, and `--complete` marks the holders the file
leaves out as having left. The reading, checking, reporting and the one transaction for the
whole file are hub.sheets'.
"""
from datetime import date

from contracts import idnumber
from hub import sheets
from hub.i18n import _
from hub.sheets import Column, to_date, to_int
from resources import certificates, schemas, volunteers, workers

LEVEL_WORDS = {"助理社会工作师": "assistant", "助理社工师": "assistant", "助理": "assistant",
               "初级": "assistant", "社会工作师": "intermediate", "社工师": "intermediate",
               "中级": "intermediate", "高级社会工作师": "senior", "高级社工师": "senior",
               "高级": "senior"}
NONE_WORDS = frozenset({"无", "未持证", "none", "-"})
HOLDER_STATUS_WORDS = {"持证": "holding", "在岗": "holding", "在职": "holding", "在本地": "holding",
                       "正常": "holding", "调离": "left", "离开": "left", "已离开": "left",
                       "离开本地": "left", "迁出": "left"}
EMPLOYER_WORDS = {"社工站": "station", "乡镇社工站": "station", "社工总站": "station",
                  "社工室": "station", "社会组织": "organisation", "社工机构": "organisation",
                  "社会工作服务机构": "organisation", "其他": "other", "其它": "other"}
COUNTY_LEVEL_WORDS = frozenset({"县级", "县本级", "县直", "全县"})
TOWNSHIP = Column("township_code", ("乡镇代码", "乡镇", "所属乡镇", "站点", "乡镇社工站"))


def certificate_level(value):
    if value.lower() in NONE_WORDS:
        return None
    return LEVEL_WORDS.get(value, value.lower())


def holder_status(value):
    return HOLDER_STATUS_WORDS.get(value, value.lower())


def employer_kind(value):
    return EMPLOYER_WORDS.get(value, value.lower())


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
        Column("certificate_number", ("证书编号", "证书号"), schemas.certificate_number,
               exact_text=True),
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


class CertificateImport(ResourcesImport):
    """The civil-affairs roster of certificate holders, kept up to date: a new certificate
    number is recorded, a known one updates its holder (an event only when something counted
    changed), so importing the same roster again changes nothing."""
    kind = "certificates"
    help = ("Import the civil-affairs roster of social work certificate holders (CSV or XLSX); "
            "a row with a known certificate number updates that holder.")
    schema = schemas.CertificateCreateSchema
    columns = (
        Column("certificate_number", ("证书编号", "证书号", "证书号码", "管理号"),
               schemas.certificate_number, exact_text=True),
        Column("name", ("姓名",)),
        Column("level", ("证书等级", "持证等级", "职业资格", "级别", "等级"), certificate_level),
        Column("passed_year", ("取得年份", "取证年份", "通过年份", "发证年份"), to_int),
        Column("township_code", TOWNSHIP.names + ("工作所在乡镇", "所在乡镇", "工作地")),
        Column("employer_kind", ("单位类型", "工作单位类型"), employer_kind),
        Column("status", ("状态", "在岗状态"), holder_status),
        Column("effective_date", ("变动日期", "离开日期", "调离日期"), to_date),
    )
    unique = {"certificate_number": schemas.certificate_number}
    options = {"complete": "the file is the whole roster: holders it leaves out have left the "
                           "area (as of today); not done when a row is rejected"}

    def write(self, tx, settings, bodies, actor):
        """The chunk's holders read at once, no savepoint a row: a refused row wrote nothing
        (and the database refusing a statement sends the chunk one row at a time)."""
        return certificates.keep_all(tx, settings, bodies, actor)

    def refine(self, settings, body):
        """A row without a status is a holder working here (the roster lists them); the county
        itself (its name, its code, 县级) is the county level: no township."""
        body.setdefault("status", "holding")
        place = body.get("township_code")
        county = settings.county
        if place in COUNTY_LEVEL_WORDS or place in (county.name, county.code):
            body["township_code"] = None
        return super().refine(settings, body)

    def finish(self, tx, settings, written, summary, actor, options):
        if not options.get("complete"):
            return []
        if summary.rejected:
            return [_("{rejected} row(s) rejected: no holder was marked as having left. Fix "
                      "them and import the whole roster again.", rejected=summary.rejected)]
        gone = certificates.mark_left_unless(tx, settings, written, date.today(), actor)
        return [_("{count} holder(s) not in the roster marked as having left the area.",
                  count=gone)]


WORKERS = WorkerImport()
VOLUNTEERS = VolunteerImport()
CERTIFICATES = CertificateImport()
