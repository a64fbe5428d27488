"""The resources service's rules: codes, earmarks, goods value, referral steps, certificates.

Pure functions only (no database, no HTTP), so each rule is unit-tested on its own.
"""
from datetime import date

from contracts.clients import CATEGORIES
from contracts.events.resources import (  # noqa: F401  (the contract's words, used as the rules')
    CERTIFICATE_LEVELS,
    DONATION_KINDS,
    EMPLOYER_KINDS,
    FIVE_SOCIETY,
    HOLDER_STATUSES,
    NEED_KINDS,
    PROVIDER_KINDS,
    REFERRAL_KINDS,
    REFERRAL_STATUSES,
    REVERSAL_REASONS,
    VOLUNTEER_ACTIVITIES,
    WORKER_STATUSES,
)
from hub.i18n import _

NEED_STATUSES = ("open", "met")
REFERRAL_STEPS = {"referred": ("accepted", "declined"), "accepted": ("completed", "declined")}
REFERRAL_DATE_COLUMN = {"referred": "referred_on", "accepted": "accepted_on",
                        "completed": "completed_on", "declined": "declined_on"}
FIRST_CERTIFICATE_YEAR = 2008        # the first national social work qualification exam
MAX_MINUTES_PER_ENTRY = 24 * 60


# -- allocations ---------------------------------------------------------------------------------
def earmark_conflicts(earmark, client):
    """Why a client does not fit a donation's earmark: {field: [reason]}, {} when it fits.

    `earmark` has category, township_code and client_id (each None when not restricted);
    `client` has client_id, categories and township_code.
    """
    errors = []
    if earmark.get("client_id") and str(earmark["client_id"]) != str(client["client_id"]):
        errors.append(_("the donation is earmarked for another client"))
    if earmark.get("category") and earmark["category"] not in client["categories"]:
        errors.append(_("the donation is earmarked for category {category}",
                        category=earmark["category"]))
    if earmark.get("township_code") and earmark["township_code"] != client["township_code"]:
        errors.append(_("the donation is earmarked for township {township}",
                        township=earmark["township_code"]))
    return {"client_id": errors} if errors else {}


def goods_value(total_value_fen, total_quantity, remaining_after, quantity):
    """The estimated value in fen of `quantity` units taken when `remaining_after` are left.

    Values are cut so that they add up: whatever order the units go in, the allocations of a
    whole donation sum to its estimated value exactly.
    """
    def allocated_value(remaining):
        return total_value_fen * (total_quantity - remaining) // total_quantity
    return allocated_value(remaining_after) - allocated_value(remaining_after + quantity)


def remaining_value(total_value_fen, total_quantity, remaining):
    """The estimated value in fen of the units still left of a goods donation."""
    return total_value_fen - total_value_fen * (total_quantity - remaining) // total_quantity


def allocation_date_errors(allocated_on, received_on):
    if allocated_on < received_on:
        return {"allocated_on": [_("is before the donation was received ({date})",
                                   date=received_on)]}
    return {}


# -- needs ----------------------------------------------------------------------------------------
def donation_kind_for_need(need_kind):
    """The donation kind that can meet a need; None when no donation can (service, referral)."""
    return need_kind if need_kind in DONATION_KINDS else None


def suggestion_score(donation, client):
    """How well a donation fits a client: None if its earmark excludes them, else higher = better.

    An earmark for the client themself counts most, then one for their category or township;
    a donation received by the client's own township station counts a little.
    """
    earmark = {"client_id": donation["earmark_client_id"],
               "category": donation["earmark_category"],
               "township_code": donation["earmark_township_code"]}
    if earmark_conflicts(earmark, client):
        return None
    return (8 * bool(earmark["client_id"]) + 2 * bool(earmark["category"])
            + 2 * bool(earmark["township_code"])
            + (donation["township_code"] == client["township_code"]))


def rank_suggestions(donations, client, limit=10):
    """Donations that fit the client and are earmarked or local to them, best first (oldest first
    among equals, so older gifts are used up first)."""
    scored = [(suggestion_score(d, client), d) for d in donations]
    scored = [(s, d) for s, d in scored if s]
    scored.sort(key=lambda sd: (-sd[0], sd[1]["received_on"], sd[1]["seq"]))
    return [d for _, d in scored[:limit]]


# -- referrals ------------------------------------------------------------------------------------
def referral_step_error(current, wanted):
    """Why a referral may not go from `current` to `wanted`, or None when it may."""
    allowed = REFERRAL_STEPS.get(current, ())
    if wanted in allowed:
        return None
    if not allowed:
        return _("the referral is already {status}", status=current)
    return _("a {status} referral can become {allowed}, not {wanted}", status=current,
             allowed=" or ".join(allowed), wanted=wanted)


def latest_referral_date(referral):
    return max(referral[c] for c in REFERRAL_DATE_COLUMN.values() if referral.get(c))


# -- workers --------------------------------------------------------------------------------------
def certificate_errors(level, year, on):
    """Field errors for a certificate (level and year) as of date `on`; {} when it is fine."""
    errors = {}
    if level is None:
        if year is not None:
            errors["certified_year"] = [_("only with a certificate_level")]
        return errors
    if year is None:
        errors["certified_year"] = [_("required with a certificate_level")]
    elif not FIRST_CERTIFICATE_YEAR <= year <= on.year:
        errors["certified_year"] = [_("must be between {min} and {max}",
                                      min=FIRST_CERTIFICATE_YEAR, max=on.year)]
    return errors


def certification_step_error(current_level, new_level):
    """A certificate can only be obtained at a higher level than the one held."""
    if current_level is None:
        return None
    if CERTIFICATE_LEVELS.index(new_level) <= CERTIFICATE_LEVELS.index(current_level):
        return _("the worker already holds {level}; a new certificate must be higher",
                 level=current_level)
    return None


# -- certificate holders --------------------------------------------------------------------------
# A holder's timeline: the levels they passed ({level, passed_year}, lowest first) and where they
# worked since ({since, township_code, status}; the first since None: from their first
# certificate; township None: the county level; status left: away from the area).
def new_timeline(level, passed_year, township_code, left_on=None):
    """A newly recorded holder's timeline: working at `township_code` from their first
    certificate, until `left_on` when they have already left."""
    places = [{"since": None, "township_code": township_code, "status": "holding"}]
    if left_on is not None:
        places.append({"since": left_on.isoformat(), "township_code": township_code,
                       "status": "left"})
    return {"levels": [{"level": level, "passed_year": passed_year}], "places": places}


def with_level(timeline, level, passed_year):
    """The timeline once the holder's highest certificate is `level`, passed in `passed_year`:
    the lower levels kept, that level's year set, any higher one dropped (a correction)."""
    rank = CERTIFICATE_LEVELS.index(level)
    levels = [entry for entry in timeline["levels"]
              if CERTIFICATE_LEVELS.index(entry["level"]) < rank]
    levels.append({"level": level, "passed_year": passed_year})
    return {**timeline, "levels": levels}


def with_place(timeline, since, township_code, status):
    """The timeline with the holder at `township_code` (or away: status left) from `since` on;
    a change on the day of the last one replaces it."""
    places = list(timeline["places"])
    entry = {"since": since.isoformat(), "township_code": township_code, "status": status}
    if len(places) > 1 and places[-1]["since"] == entry["since"]:
        places.pop()
    if (places[-1]["township_code"], places[-1]["status"]) != (township_code, status):
        places.append(entry)
    return {**timeline, "places": places}


def first_passed_year(timeline):
    return min(entry["passed_year"] for entry in timeline["levels"])


def holder_change_errors(timeline, since):
    """{effective_date: [reason]} when a change of place or status on `since` comes before the
    holder's last one or before the year of their first certificate."""
    last = timeline["places"][-1]["since"]
    if last and since < date.fromisoformat(last):
        return {"effective_date": [_("is before the holder's last change ({date})", date=last)]}
    year = first_passed_year(timeline)
    if since.year < year:
        return {"effective_date": [_("is before the year the certificate was passed ({year})",
                                     year=year)]}
    return {}


# -- volunteers -----------------------------------------------------------------------------------
def minutes_of(hours):
    """Hours (a decimal, e.g. 2.5) as whole minutes."""
    return int(round(float(hours) * 60))


def not_before(value, earliest, field, what):
    """{field: [reason]} when `value` is before `earliest` (a date), else {}."""
    if earliest is not None and value < earliest:
        return {field: [_("is before {what} ({date})", what=what, date=earliest)]}
    return {}


def township_errors(county, codes):
    """{field: [reason]} for each given township code (field -> code) not in the county."""
    return {f: [_("{code} is not a township of {county} ({county_code})", code=code,
                  county=county.name, county_code=county.code)]
            for f, code in codes.items() if code is not None and not county.has_township(code)}


def today():
    return date.today()


def valid_category(code):
    return code in CATEGORIES
