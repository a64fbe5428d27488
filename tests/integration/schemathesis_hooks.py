"""A Schemathesis check of the hub's own (loaded by test_hostile_input.py through
SCHEMATHESIS_HOOKS into the `schemathesis run` it starts): every error answer is the documented
JSON error shape, and a 400 or 422 names the fields it refuses."""
import schemathesis


@schemathesis.check
def refusals_name_fields(ctx, response, case):
    if response.status_code < 400:
        return None
    try:
        error = response.json()["error"]
        missing = {"code", "message", "fields"} - set(error)
    except Exception:
        raise AssertionError(f"A {response.status_code} answer is not the hub's JSON error shape")
    if missing:
        raise AssertionError(f"A {response.status_code} answer's error lacks {sorted(missing)}")
    if response.status_code in (400, 422) and not error["fields"]:
        raise AssertionError(f"A {response.status_code} answer names no field")
    return None
