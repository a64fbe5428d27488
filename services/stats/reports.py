"""The annual report of a place: its year's figures beside the year before, by client category
and age group, station ratings, and the Chinese narrative paragraph; as JSON, CSV or XLSX."""
import csv
import io
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

from contracts.clients import CATEGORIES
from hub.errors import ValidationFailed
from hub.i18n import _
from stats import domain, figures
from stats.role import AREA_CODES

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_TYPE = "text/csv; charset=utf-8"


def level_of(config, code):
    """The level a code names: 6 digits a county (at an aggregator: its own area, or a
    prefecture when it ends in 00), 9 a township, 12 a village."""
    if config.is_province and code == config.province_code:
        return config.role
    if config.is_province and AREA_CODES["prefecture"].fullmatch(code):
        return "prefecture"
    for level in ("county", "township", "village"):
        if len(code) == domain.CODE_LENGTHS[level]:
            return level
    raise ValidationFailed(_("The code is not a place code."),
                           fields={"code": [_("must have 6 (county), 9 (township) or 12 (village) "
                                              "digits")]})


def annual(tx, config, year, code):
    """The report as a dict (the JSON answer)."""
    level = level_of(config, code)
    period = domain.parse_period(f"{year:04d}")
    previous = period.previous_year()
    place = figures.find_place(tx, config, level, code)
    rows = figures.read_rows(tx, code, period, previous)
    merged = domain.with_previous(figures.values_for(rows[period.text], place, period),
                                  figures.values_for(rows[previous.text], place, previous))
    by_category = _breakdown(rows[period.text], place, period, "category")
    by_group = _breakdown(rows[period.text], place, period, "group")
    for key, entry in merged.items():
        cats = {c: v[key] for c, v in by_category.items() if v.get(key)}
        groups = {g: v[key] for g, v in by_group.items() if v.get(key)}
        if cats:
            entry["by_category"] = cats
        if groups:
            entry["by_group"] = groups
    rated = figures.ratings(tx, place, year)
    report = {"year": year, "level": level, "code": code, "name": place.name,
              **figures.signoff_state(tx, config, level, code, period),
              "figures": figures.label(merged), "ratings": rated,
              "narrative": domain.narrative(year, level, place.name, merged, rated)}
    return report


def _breakdown(rows, place, period, dimension):
    out = {}
    for value in figures.dimension_values(rows, dimension):
        pick = {"category": value} if dimension == "category" else {"group": value}
        cells = figures.values_for(rows, place, period, **pick)
        out[value] = {k: v["value"] for k, v in cells.items() if v["value"]}
    return out


# -- downloads ----------------------------------------------------------------------------------
def _number(key, value):
    """A figure's value for a sheet: money in yuan (2 decimals), the rest as it is."""
    if value is None:
        return None
    figure = domain.FIGURES_BY_KEY.get(key)
    if figure is not None and figure.unit == "分":
        return (Decimal(value) / 100).quantize(Decimal("0.01"))
    return value


def _shown(key, figure, path, as_number=True, n=None):
    """A cell of the sheet: the number at `path` of a figure, or the text that stands for it
    where it is suppressed for readers outside the county ("<5", "x": stats/disclosure.py)."""
    hidden = (figure.get("suppressed") or {}).get(path)
    if hidden:
        return hidden
    value = figure.get(path) if n is None else n
    return _number(key, value) if as_number else value


def _unit(key):
    figure = domain.FIGURES_BY_KEY.get(key)
    if figure is None:
        return domain.DERIVED_LABELS[key][1]
    return "元" if figure.unit == "分" else figure.unit


def table(report):
    """The report as rows of cells (shared by CSV and XLSX)."""
    year = report["year"]
    rows = [[f"{report['name']}{year}年度统计报告"], ["说明", report["narrative"]], [],
            ["指标", "代码", "单位", f"{year}年", f"{year - 1}年", "同比增长(%)"]]
    for key, f in report["figures"].items():
        rows.append([f["label"], key, _unit(key), _shown(key, f, "value"),
                     _shown(key, f, "previous"), _shown(key, f, "growth_percent", False)])
    category_names = {c: name for c, (name, _, _) in CATEGORIES.items()}
    for title, dim, names in (("按服务对象类别", "by_category", category_names),
                              ("按年龄组", "by_group", domain.AGE_GROUP_NAMES)):
        cells = [(names.get(value, value), key, _shown(key, f, f"{dim}.{value}", n=n))
                 for key, f in report["figures"].items()
                 for value, n in f.get(dim, {}).items()]
        if cells:
            rows += [[], [title], ["分组", "指标", "单位", f"{year}年"]]
            rows += [[name, report["figures"][key]["label"], _unit(key), n]
                     for name, key, n in sorted(cells, key=lambda c: (c[1], c[0]))]
    rows += [[], ["社工站评定"], ["等次", "站数"]]
    rows += [[domain.RATINGS[r], n] for r, n in report["ratings"].items()]
    return rows


def to_csv(report):
    """UTF-8 with a byte-order mark, so that Excel opens the Chinese correctly."""
    out = io.StringIO()
    writer = csv.writer(out)
    for row in table(report):
        writer.writerow(["" if c is None else c for c in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(report):
    book = Workbook()
    sheet = book.active
    sheet.title = f"{report['year']}年度报告"
    for row in table(report):
        sheet.append([float(c) if isinstance(c, Decimal) else c for c in row])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.merge_cells("B2:F2")
    sheet["B2"].alignment = Alignment(wrap_text=True, vertical="top")
    sheet.row_dimensions[2].height = 90
    for column, width in zip("ABCDEF", (24, 28, 8, 16, 16, 14)):
        sheet.column_dimensions[column].width = width
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def filename(report, extension):
    return f"annual-report-{report['code']}-{report['year']}.{extension}"
