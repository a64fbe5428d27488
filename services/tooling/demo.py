"""The small demo data set `make run` loads, through the public API like any other caller.

Deterministic: ID numbers are made from fixed birth dates, so loading twice registers nobody
twice (the API answers 409 and the loader counts them as already there).
"""
import json
import urllib.error
import urllib.request
from datetime import date, timedelta

from contracts.idnumber import make as make_id

# registered three days before the demo is loaded: some visits are due, the critical one overdue
REGISTERED_ON = (date.today() - timedelta(days=3)).isoformat()
CONSENT = {"given": True, "date": REGISTERED_ON, "recorded_by": "县社工总站"}

# (name, birth date, village, categories, risk, flags, extra)
CLIENTS = [
    ("朱小明", date(2005, 8, 14), "341721100001", ["extreme_poverty"], "critical",
     ["self_harm", "lives_alone"], {}),
    ("王桂英", date(1941, 2, 3), "341721101201", ["solitary_elderly", "extreme_poverty"], "high",
     ["lives_alone"], {}),
    ("李德顺", date(1948, 11, 20), "341721102201", ["left_behind_elderly"], "medium", [], {}),
    ("陈丽", date(2014, 6, 1), "341721103201", ["left_behind_child"], "medium", [],
     {"guardian": {"name": "陈奶奶", "phone": "13905661234", "relation": "祖母"}}),
    ("刘洋", date(2012, 9, 9), "341721104001", ["child_in_difficulty", "minimum_living_allowance"],
     "high", ["family_mental_illness"],
     {"guardian": {"name": "刘建国", "phone": "13805662345", "relation": "父亲"}}),
    ("赵春花", date(1956, 4, 18), "341721105001", ["disabled", "minimum_living_allowance"], "medium",
     [], {"disability": {"type": "physical", "grade": 2}}),
    ("孙国强", date(1970, 1, 30), "341721106201", ["serious_illness", "low_income_marginal"], "low",
     [], {}),
    ("周小雨", date(2016, 12, 12), "341721107201", ["unsupported_child"], "high", ["no_guardian"],
     {"guardian": {"name": "周村委", "phone": "05665551234", "relation": "村委会监护"}}),
    ("吴秀兰", date(1938, 7, 7), "341721200201", ["solitary_elderly"], "high", ["lives_alone"], {}),
    ("郑大海", date(1962, 3, 3), "341721202001", ["other_hardship"], "low", [], {}),
]


def demo_clients(county):
    """The demo clients, in the configured county: its own villages when the listed ones
    are not there (a hub run with COUNTY_CONFIG for another county)."""
    villages = [v for town in county.townships.values() for v in town.villages]
    for i, (name, born, village, cats, risk, flags, extra) in enumerate(CLIENTS):
        if county.township_of(village) is None:
            village = villages[i % len(villages)]
        yield {"name": name, "id_number": make_id(county.code, born, 100 + i * 2 + 1),
               "phone": f"1390566{1000 + i:04d}", "village_code": village, "categories": cats,
               "risk_level": risk, "risk_flags": flags, "consent": CONSENT,
               "effective_date": REGISTERED_ON, **extra}


def post(base_url, token, path, body):
    request = urllib.request.Request(
        base_url + path, data=json.dumps(body).encode(), method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def load(base_url, token, county):
    """Register the demo clients; returns (registered, already there)."""
    created = existing = 0
    for body in demo_clients(county):
        status, answer = post(base_url, token, "/clients", body)
        if status == 201:
            created += 1
        elif status == 409:
            existing += 1
        else:
            raise RuntimeError(f"demo client {body['village_code']} refused: {status} {answer}")
    return created, existing
