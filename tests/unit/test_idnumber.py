"""Resident ID numbers: check character (ISO 7064 MOD 11-2), birth date and sex."""
from datetime import date

import pytest

from contracts.idnumber import InvalidIdNumber, check_character, make, parse


def test_known_check_characters():
    # the worked example of GB 11643-1999
    assert check_character("11010519491231002") == "X"
    assert parse("11010519491231002X").birth_date == date(1949, 12, 31)


def test_birth_date_and_sex_are_derived():
    number = make("341721", date(2005, 8, 14), 123)
    rid = parse(number)
    assert rid.birth_date == date(2005, 8, 14)
    assert rid.sex == "male"              # 17th digit 3 is odd
    assert rid.region_code == "341721"
    assert parse(make("341721", date(2005, 8, 14), 124)).sex == "female"


def test_lowercase_x_is_accepted():
    assert parse("11010519491231002x").number.endswith("X")


@pytest.mark.parametrize("value, reason", [
    ("1101051949123100", "18 characters"),
    ("11010519491231002Y", "17 digits"),
    ("110105194912310021", "check character"),
    (make("341721", date(2005, 2, 28), 1)[:10] + "0230" + "0011", "check character"),
    (None, "string"),
])
def test_invalid_numbers_say_why(value, reason):
    with pytest.raises(InvalidIdNumber, match=reason):
        parse(value)


def test_impossible_or_future_birth_dates_are_refused():
    first17 = "34172120050230001"          # 30 February
    with pytest.raises(InvalidIdNumber, match="real date"):
        parse(first17 + check_character(first17))
    future = make("341721", date(2030, 1, 1), 1)
    with pytest.raises(InvalidIdNumber, match="out of range"):
        parse(future, today=date(2026, 1, 1))
