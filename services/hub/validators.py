"""Validators every service's request schemas share, so each rule is stated once, the same way to
the API and to its OpenAPI document (apispec emits each pattern). The patterns of the shared
vocabulary (place codes, ID numbers, phone numbers) are in the contracts package.

A pattern must mean the same in Python and in the document's JSON Schema (ECMA regex): digits
are `[0-9]` (Python's `\\d` takes any Unicode digit), and a value must match it whole
(Python's `$` also matches before a final newline).
"""
import uuid
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from marshmallow import ValidationError, validate

from hub.i18n import _


class Pattern(validate.Regexp):
    """A Regexp the whole value must match."""

    def __call__(self, value):
        if self.regex.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value


def not_in_future(value):
    """A date (or a time) today or before."""
    day = value.date() if isinstance(value, datetime) else value
    if day > date.today():
        raise ValidationError(_("must not be in the future"))


def is_uuid(value):
    """Whether `value` is a text that reads as a UUID (a path value, an id in a body)."""
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


class UpToThisYear(validate.Range):
    """A year from `first` to this one: whichever year it is when a value is checked, or when
    the document is generated."""

    def __init__(self, first):
        super().__init__(first, None, error=_("must be between {min} and {max}"))

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
        raise ValidationError(_("must have at most two decimal places"))
