"""marshmallow's own error messages, marked for translation (hub.i18n).

marshmallow writes them itself, so they reach an answer as plain text, which hub.i18n.translate
finds by its msgid (placeholders matched). Nothing imports this module: it is here for
`make messages` to extract them. tests/unit/test_i18n.py checks it against the messages of the
installed marshmallow, so an upgrade that changes one is noticed.
"""
from hub.i18n import _

MESSAGES = (
    # fields
    _("Missing data for required field."),
    _("Field may not be null."),
    _("Invalid value."),
    _("Invalid type."),
    _("Invalid input type."),
    _("Unknown field."),
    _("Not a valid string."),
    _("Not a valid utf-8 string."),
    _("Not a valid integer."),
    _("Not a valid number."),
    _("Number too large."),
    _("Special numeric values (nan or infinity) are not permitted."),
    _("Not a valid boolean."),
    _("Not a valid date."),
    _("Not a valid datetime."),
    _("Not a valid time."),
    _("Not a valid {obj_type}."),
    _("Not a valid {awareness} {obj_type}."),
    _("\"{input}\" cannot be formatted as a date."),
    _("\"{input}\" cannot be formatted as a {obj_type}."),
    _("Not a valid period of time."),
    _("{input!r} cannot be formatted as a timedelta."),
    _("Not a valid UUID."),
    _("Not a valid list."),
    _("Not a valid tuple."),
    _("Not a valid mapping type."),
    _("Not a valid URL."),
    _("Not a valid email address."),
    _("Not a valid IP address."),
    _("Not a valid IPv4 address."),
    _("Not a valid IPv6 address."),
    _("Not a valid IP interface."),
    _("Not a valid IPv4 interface."),
    _("Not a valid IPv6 interface."),
    _("Must be one of: {choices}."),
    # validators
    _("Invalid input."),
    _("String does not match expected pattern."),
    _("Length must be between {min} and {max}."),
    _("Length must be {equal}."),
    _("Longer than maximum length {max}."),
    _("Shorter than minimum length {min}."),
    _("Must be equal to {other}."),
    _("One or more of the choices you made was in: {values}."),
    _("One or more of the choices you made was not in: {choices}."),
    # Range, as it reads once its operators are filled in
    _("Must be greater than or equal to {min}."),
    _("Must be greater than {min}."),
    _("Must be less than or equal to {max}."),
    _("Must be less than {max}."),
    _("Must be greater than or equal to {min} and less than or equal to {max}."),
    _("Must be greater than or equal to {min} and less than {max}."),
    _("Must be greater than {min} and less than or equal to {max}."),
    _("Must be greater than {min} and less than {max}."),
)
