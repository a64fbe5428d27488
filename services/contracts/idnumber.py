"""Resident ID numbers (居民身份证号码, GB 11643): check character, birth date and sex."""
from dataclasses import dataclass
from datetime import date

from hub.i18n import _
from hub.validators import Pattern

# the shape an API checks first (the whole rule is parse())
ID_NUMBER = Pattern(r"^[0-9]{17}[0-9X]$", error=_("must be 17 digits followed by a digit or X"))
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"


class InvalidIdNumber(ValueError):
    pass


@dataclass(frozen=True)
class ResidentId:
    number: str
    birth_date: date
    sex: str           # "male" | "female"
    region_code: str   # the 6-digit area code of first registration


def check_character(first17):
    """ISO 7064 MOD 11-2 check character of the first 17 digits."""
    return CHECK_CHARS[sum(int(d) * w for d, w in zip(first17, WEIGHTS)) % 11]


def parse(value, today=None):
    """Parse and validate an 18-character ID number; raises InvalidIdNumber saying why."""
    if not isinstance(value, str):
        raise InvalidIdNumber(_("must be a string of 18 characters"))
    number = value.strip().upper()
    if len(number) != 18:
        raise InvalidIdNumber(_("must be 18 characters long"))
    if not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
        raise InvalidIdNumber(_("must be 17 digits followed by a digit or X"))
    if check_character(number[:17]) != number[17]:
        raise InvalidIdNumber(_("check character does not match (mistyped?)"))
    try:
        birth = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise InvalidIdNumber(_("birth date part is not a real date"))
    today = today or date.today()
    if birth > today or birth.year < 1890:
        raise InvalidIdNumber(_("birth date part is out of range"))
    sex = "male" if int(number[16]) % 2 else "female"
    return ResidentId(number, birth, sex, number[:6])


def make(region_code, birth, sequence):
    """Build a valid ID number (for demo data and tests): region, birth date, 3-digit sequence."""
    first17 = f"{region_code}{birth:%Y%m%d}{sequence:03d}"
    return first17 + check_character(first17)
