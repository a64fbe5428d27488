"""Phone numbers as the stations write them: a mobile, a landline with its area code, or another."""
from hub.i18n import _
from hub.validators import Pattern

PHONE = Pattern(r"^(1[0-9]{10}|0[0-9]{2,3}-?[0-9]{7,8}|\+?[0-9\- ]{7,20})$",
                error=_("must be a mobile (11 digits) or landline number"))
