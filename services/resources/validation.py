"""Turning rule findings into answers: 422 naming the fields, with a message saying what to fix."""
from hub.errors import ValidationFailed
from hub.i18n import _
from resources import domain


def refuse_if(errors, message):
    """Raise 422 with `errors` ({field: [reason]}) when there are any."""
    if errors:
        raise ValidationFailed(message, fields=errors)


def check_townships(settings, **codes):
    """422 naming each field whose township code is not one of this county's townships."""
    refuse_if(domain.township_errors(settings.county, codes),
              _("A township code is not one of this county's townships."))
