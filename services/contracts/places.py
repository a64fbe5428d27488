"""Place codes (统计用区划代码): a county is 6 digits, a township 9, a village 12."""
from hub.i18n import _
from hub.validators import Pattern

COUNTY = Pattern(r"^[0-9]{6}$", error=_("must be a 6-digit county code"))
TOWNSHIP = Pattern(r"^[0-9]{9}$", error=_("must be a 9-digit township code"))
VILLAGE = Pattern(r"^[0-9]{12}$", error=_("must be a 12-digit village code"))
PLACE = Pattern(r"^([0-9]{6}|[0-9]{9}|[0-9]{12})$",
                error=_("must be a place code of 6, 9 or 12 digits"))
