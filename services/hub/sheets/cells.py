"""A spreadsheet cell as the API's value: the cell's text, then a column's conversion of it.

Cells come out as text whatever the file typed them as (full width folded, trimmed, a whole
number without '.0'), dates as ISO dates; a column's `convert` then turns the text into the
API's value (a date, a number, a code for a Chinese word). A conversion that cannot make sense
of a value returns it as it is: the API's schema then names the field and says why.
"""
import re
import unicodedata
from datetime import date, datetime

DATE_PARTS = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")
LIST_SEPARATORS = re.compile(r"[、，,;；\s]+")
YES_NO = {"是": True, "否": False, "同意": True, "不同意": False, "已同意": True, "未同意": False,
          "y": True, "n": False, "有": True, "无": False}


def cell_value(cell, convert=None):
    """A cell's value, None when empty: a date as its ISO date, anything else as its text
    given to `convert` (when there is one)."""
    if cell is None:
        return None
    if isinstance(cell, datetime):
        cell = cell.date()
    if isinstance(cell, date):
        return cell.isoformat()
    if isinstance(cell, float) and cell.is_integer():
        cell = int(cell)
    value = unicodedata.normalize("NFKC", str(cell)).strip()
    if not value:
        return None
    return convert(value) if convert else value


def blank(cells):
    return all(c is None or (isinstance(c, str) and not c.strip()) for c in cells)


# -- conversions (cell text -> API value) ----------------------------------------------------------

def text(value):
    return value


def to_date(value):
    """'2024/1/5', '2024.1.5', '2024年1月5日', '20240105' -> '2024-01-05'; others as they are."""
    if len(value) == 8 and value.isdigit():
        return f"{value[:4]}-{value[4:6]}-{value[6:]}"
    parts = DATE_PARTS.match(value)
    if parts:
        y, m, d = parts.groups()
        return f"{y}-{int(m):02d}-{int(d):02d}"
    return value


def to_int(value):
    try:
        return int(value)
    except ValueError:
        return value


def yes_no(value):
    """是/否, 同意/不同意, 有/无, y/n -> True/False; others (yes, true …) for the schema."""
    return YES_NO.get(value.lower(), value)


def words(table):
    """A conversion by a table of words (Chinese names -> codes); others lower-cased."""
    def convert(value):
        return table.get(value, table.get(value.lower(), value.lower()))
    return convert


def word_list(table):
    """A list in one cell ('留守儿童、困境儿童', 'a,b'), each word converted by `table`."""
    def convert(value):
        return [table.get(w, table.get(w.lower(), w)) for w in LIST_SEPARATORS.split(value) if w]
    return convert
