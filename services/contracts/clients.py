"""Who a client is, in the words every service shares: the categories (with their age rules),
age groups and bands, risk levels and flags, statuses and the reasons a case closes."""
from hub.i18n import _

CATEGORIES = {
    # code: (中文, minimum age, maximum age exclusive)
    "solitary_elderly": ("孤寡/独居老人", 60, None),
    "left_behind_elderly": ("留守老人", 60, None),
    "left_behind_child": ("留守儿童", None, 18),
    "child_in_difficulty": ("困境儿童", None, 18),
    "unsupported_child": ("孤儿/事实无人抚养儿童", None, 18),
    "disabled": ("残疾人", None, None),
    "extreme_poverty": ("特困人员", None, None),
    "minimum_living_allowance": ("低保对象", None, None),
    "low_income_marginal": ("低保边缘", None, None),
    "serious_illness": ("重病患者", None, None),
    "other_hardship": ("其他困难群众", None, None),
}
CHILD_CATEGORIES = frozenset(c for c, (_, lo, hi) in CATEGORIES.items() if hi == 18)
AGE_GROUPS = ("elderly", "child", "other")
SEXES = ("male", "female")
RISK_LEVELS = ("low", "medium", "high", "critical")
RISK_FLAGS = ("self_harm", "lives_alone", "no_guardian", "family_mental_illness",
              "chronic_illness", "domestic_violence", "no_income", "dementia")
STATUSES = ("active", "closed")
CLOSE_REASONS = ("moved", "deceased", "no_longer_eligible", "goals_met", "other")
DISABILITY_TYPES = ("visual", "hearing", "speech", "physical", "intellectual", "mental", "multiple")


def age_on(birth_date, on):
    return on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))


def age_group(age):
    """The statistics group: elderly (60 and over), child (under 18), other."""
    if age >= 60:
        return "elderly"
    if age < 18:
        return "child"
    return "other"


def age_band(age):
    """A coarse band, safe to publish: never the birth date itself."""
    for upper, band in ((6, "0-5"), (12, "6-11"), (18, "12-17"), (45, "18-44"), (60, "45-59"),
                        (70, "60-69"), (80, "70-79")):
        if age < upper:
            return band
    return "80+"


def age_rule_errors(categories, age):
    """What is wrong with `categories` for a person of `age` (the categories' age rules)."""
    problems = []
    for code in categories:
        _label, lo, hi = CATEGORIES[code]
        if lo is not None and age < lo:
            problems.append(_("{category} needs age {min} or over (age is {age})",
                              category=code, min=lo, age=age))
        if hi is not None and age >= hi:
            problems.append(_("{category} needs age under {max} (age is {age})",
                              category=code, max=hi, age=age))
    return problems
