"""Validators every service's request schemas share, so each rule is stated once, the same way to
the API and to its OpenAPI document (apispec emits each pattern).

A pattern must mean the same in Python and in the document's JSON Schema (ECMA regex): digits
are `[0-9]` (Python's `\\d` takes any Unicode digit), and a value must match it whole
(Python's `$` also matches before a final newline).
"""
from datetime import date
from decimal import Decimal, InvalidOperation

from marshmallow import ValidationError, validate


class Pattern(validate.Regexp):
    """A Regexp the whole value must match."""

    def __call__(self, value):
        if self.regex.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value


COUNTY = Pattern(r"^[0-9]{6}$", error="must be a 6-digit county code")
TOWNSHIP = Pattern(r"^[0-9]{9}$", error="must be a 9-digit township code")
VILLAGE = Pattern(r"^[0-9]{12}$", error="must be a 12-digit village code")
PLACE = Pattern(r"^([0-9]{6}|[0-9]{9}|[0-9]{12})$",
                error="must be a place code of 6, 9 or 12 digits")
ID_NUMBER = Pattern(r"^[0-9]{17}[0-9X]$", error="must be 17 digits followed by a digit or X")
PHONE = Pattern(r"^(1[0-9]{10}|0[0-9]{2,3}-?[0-9]{7,8}|\+?[0-9\- ]{7,20})$",
                error="must be a mobile (11 digits) or landline number")


class UpToThisYear(validate.Range):
    """A year from `first` to this one: whichever year it is when a value is checked, or when
    the document is generated."""

    def __init__(self, first):
        super().__init__(first, None, error="must be between {min} and {max}")

    @property
    def max(self):
        return date.today().year

    @max.setter
    def max(self, value):
        pass


def hundredths(value):
    """A Decimal with at most two decimal places (document it with metadata multipleOf 0.01)."""
    try:
        whole = value == value.quantize(Decimal("0.01"))
    except InvalidOperation:        # too many digits to have two decimal places
        whole = False
    if not whole:
        raise ValidationError("must have at most two decimal places")
