"""Intake's rules for registering a person: the categories must fit their age (the shared rules
of contracts.clients), a disability its category, and a minor needs a guardian."""
from datetime import date

from contracts.clients import age_rule_errors
from hub.i18n import _


def category_errors(categories, age, disability, guardian):
    """Field errors for categories that do not fit the person; {} when all is well."""
    errors = {}
    problems = age_rule_errors(categories, age)
    if problems:
        errors["categories"] = problems
    if "disabled" in categories and not disability:
        errors["disability"] = [_("required (type and grade 1-4) for the disabled category")]
    if disability and "disabled" not in categories:
        errors["disability"] = [_("only for clients in the disabled category")]
    if age < 18 and not guardian:
        errors["guardian"] = [_("required for a minor (name, phone, relation)")]
    return errors


def today():
    return date.today()
