"""A year of a county's demo work, loaded through the public API like any other caller (`hub demo
--year`, which `make province` runs in every county): station workers, clients registered over
the past twelve months, their planned visits made as they fell due, donations received and
allocated month by month, real-name volunteers, activities and a worker certified this year.

Deterministic for a county (names, ID numbers and dates follow from its code and today), and
loaded once: when its first client is already registered, nothing more is loaded. Dated in the
past with each write's effective date, so the figures of the last year and this one fill up.
"""
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from datetime import time as clock

from contracts.idnumber import make as make_id
from tooling.demo import post

CHINA = timezone(timedelta(hours=8))
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = ("秀英", "桂兰", "建国", "小明", "丽华", "海涛", "春花", "德顺", "玉兰", "志强", "小雨",
         "国庆")
# (categories, age, risk, extra): the clients a township station serves
PROFILES = (
    (["solitary_elderly"], 78, "medium", {}),
    (["left_behind_child"], 9, "low", {"guardian": True}),
    (["child_in_difficulty"], 12, "medium", {"guardian": True}),
    (["left_behind_elderly"], 70, "low", {}),
    (["disabled", "minimum_living_allowance"], 45, "low",
     {"disability": {"type": "physical", "grade": 2}}),
    (["extreme_poverty"], 66, "high", {}),
)
CLIENTS = 24                # registered over the year, two a month
STATIONS = 4                # townships with a worker and clients
VOLUNTEERS = 36
OPEN = ("scheduled", "overdue")
WAIT_SECONDS = 30           # for a service to learn of a client or worker from its events


class DemoError(RuntimeError):
    """A demo write was refused; the message says which and why."""


def get(base_url, token, path, params):
    request = urllib.request.Request(f"{base_url}{path}?{urllib.parse.urlencode(params)}",
                                     headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def name_of(n):
    return SURNAMES[n % len(SURNAMES)] + GIVEN[(n // len(SURNAMES) + n) % len(GIVEN)]


def born(age, on, n):
    """A birth date making someone `age` years old on `on` (a few weeks past a birthday)."""
    return on.replace(year=on.year - age, day=min(on.day, 28)) - timedelta(days=20 + n % 200)


class YearOfWork:
    """One county's year, written through the API at `base_url` with `token`."""

    def __init__(self, base_url, token, county, progress=print, today=None):
        self.base_url, self.token, self.county = base_url, token, county
        self.progress = progress
        self.today = today or date.today()
        self.start = self.today - timedelta(days=365)
        opened = [t for t in sorted(county.townships.values(), key=lambda t: t.code)
                  if t.villages]
        self.stations = opened[:STATIONS]
        self.made = Counter()

    # -- calling the API ---------------------------------------------------------------------
    def write(self, path, body, what, status=(201,)):
        """POST, waiting a while for a service to learn what the write names (a client or a
        worker another service registered a moment ago); DemoError when it is refused."""
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            code, answer = post(self.base_url, self.token, path, body)
            if code in status:
                self.made[what] += 1
                return answer
            if code >= 500 or time.monotonic() > deadline:
                raise DemoError(f"{self.county.name}: {what} refused: {code} {answer}")
            time.sleep(0.3)

    def say(self, text):
        self.progress(f"{self.county.name} ({self.county.code}): {text}")

    def day(self, offset):
        """The day `offset` days after the year's start, never after yesterday."""
        return min(self.start + timedelta(days=offset), self.today - timedelta(days=1))

    # -- the year ----------------------------------------------------------------------------
    def load(self):
        """Load the year; returns what was made (Counter), empty when it was loaded before."""
        clients = list(self.client_bodies())
        first = post(self.base_url, self.token, "/clients", clients[0][1])
        if first[0] == 409:
            self.say("a year of work is already loaded")
            return self.made
        if first[0] != 201:
            raise DemoError(f"{self.county.name}: client refused: {first[0]} {first[1]}")
        self.made["clients"] += 1
        workers = self.workers()
        registered = [(clients[0][0], first[1])]
        for day, body in clients[1:]:
            registered.append((day, self.write("/clients", body, "clients")))
        self.say(f"{len(registered)} clients registered over the year, {len(workers)} workers")
        self.visits(registered, workers)
        self.donations_and_allocations(registered)
        self.volunteers()
        self.activities(registered, workers)
        self.certify(workers)
        self.certificate_holders()
        self.say("done: " + ", ".join(f"{n} {what}" for what, n in sorted(self.made.items())))
        return self.made

    def client_bodies(self):
        """[(registration day, body)] of the year's clients, two a month."""
        villages = [v for t in self.stations for v in sorted(t.villages)]
        for i in range(CLIENTS):
            day = self.day(7 + i * 14)
            categories, age, risk, extra = PROFILES[i % len(PROFILES)]
            body = {"name": name_of(i), "id_number": make_id(self.county.code,
                                                              born(age, day, i), 200 + i),
                    "phone": f"139{self.county.code[-4:]}{i:04d}",
                    "village_code": villages[i % len(villages)], "categories": categories,
                    "risk_level": risk, "effective_date": day.isoformat(),
                    "consent": {"given": True, "date": day.isoformat(),
                                "recorded_by": "乡镇社工站"}}
            if extra.get("guardian"):
                body["guardian"] = {"name": name_of(i + 7), "phone": f"138{self.county.code[-4:]}"
                                    f"{i:04d}", "relation": "祖母"}
            if "disability" in extra:
                body["disability"] = extra["disability"]
            yield day, body

    def workers(self):
        """A worker at each station, three of them certified; {township: worker}."""
        levels = ("assistant", "intermediate", "assistant", None)
        found = {}
        for i, town in enumerate(self.stations):
            level = levels[i % len(levels)]
            found[town.code] = self.write("/workers", {
                "name": name_of(40 + i) + "社工", "township_code": town.code,
                "certificate_level": level, "certified_year": level and self.start.year - 1,
                "weekly_capacity": 30,
                "effective_date": (self.start - timedelta(days=30)).isoformat()}, "workers")
        return found

    def visits(self, registered, workers):
        """Each client's planned visits, made as they fell due (one in five a few days late)."""
        yesterday = self.today - timedelta(days=1)
        for n, (_, client) in enumerate(registered, 1):
            worker = workers.get(client["village_code"][:9])
            for round_ in range(40):
                code, page = get(self.base_url, self.token, "/visits",
                                 {"client_id": client["id"], "limit": 20})
                due = [v for v in page.get("items", []) if v["status"] in OPEN]
                if code != 200 or not due:         # visits has not planned it yet
                    if round_ < 20:
                        time.sleep(0.3)
                        continue
                    break
                visit = min(due, key=lambda v: v["due_on"])
                on = date.fromisoformat(visit["due_on"]) + timedelta(days=3 * (round_ % 5 == 4))
                if on > yesterday:
                    break
                self.write(f"/visits/{visit['id']}/complete", {
                    "visited_at": datetime.combine(on, clock(10), CHINA).isoformat(),
                    "mode": "home" if round_ % 3 else "phone",
                    "worker_id": worker and worker["id"]}, "visits", status=(200,))
            if n % 6 == 0:
                self.say(f"visits made for {n}/{len(registered)} clients "
                         f"({self.made['visits']} visits)")

    def donations_and_allocations(self, registered):
        """A money donation every month (and goods each quarter), given out the same month to
        the clients registered by then."""
        providers = [self.write("/providers", {"name": name, "kind": kind,
                                               "five_society": five}, "providers")
                     for name, kind, five in (("爱心企业", "enterprise", "social_resource"),
                                              ("慈善会", "social_organisation",
                                               "social_organisation"),
                                              ("爱心人士", "individual", "social_resource"))]
        for month in range(12):
            received = self.day(3 + month * 30)
            town = self.stations[month % len(self.stations)].code
            money = self.write("/donations", {
                "provider_id": providers[month % 3]["id"], "kind": "money",
                "amount_fen": 800_000 + (month * 137 % 7) * 150_000, "township_code": town,
                "received_on": received.isoformat()}, "donations")
            given = self.day(8 + month * 30)
            eligible = [c for day, c in registered if day <= received]
            for k in range(min(4, len(eligible))):
                client = eligible[(month * 3 + k) % len(eligible)]
                self.write("/allocations", {"donation_id": money["id"], "client_id": client["id"],
                                            "amount_fen": 30_000 + 5_000 * (k % 3),
                                            "allocated_on": given.isoformat()}, "allocations")
            if month % 3 == 2 and eligible:
                goods = self.write("/donations", {
                    "provider_id": providers[0]["id"], "kind": "goods", "item": "大米",
                    "unit": "袋", "quantity": 20, "value_fen": 1_000_000,
                    "township_code": town, "received_on": received.isoformat()}, "donations")
                for k in range(min(5, len(eligible))):
                    self.write("/allocations", {
                        "donation_id": goods["id"], "client_id": eligible[-1 - k]["id"],
                        "quantity": 1, "allocated_on": given.isoformat()}, "allocations")
        self.say(f"{self.made['donations']} donations, {self.made['allocations']} allocations")

    def volunteers(self):
        for i in range(VOLUNTEERS):
            day = self.day(i * 10)
            self.write("/volunteers", {
                "name": name_of(100 + i), "township_code": self.stations[i % STATIONS].code,
                "id_number": make_id(self.county.code, born(30 + i % 30, day, i), 500 + i),
                "registered_on": day.isoformat()}, "volunteers")
        self.say(f"{self.made['volunteers']} volunteers registered")

    def activities(self, registered, workers):
        """An activity each quarter at a station, attended by the clients registered by then."""
        kinds = ("theme_activity", "free_clinic", "lecture", "group_work")
        for quarter in range(4):
            held = self.day(45 + quarter * 90)
            town = self.stations[quarter % len(self.stations)].code
            came = [c["id"] for day, c in registered if day <= held][:8]
            if not came:
                continue
            self.write("/activities", {
                "station": town, "kind": kinds[quarter], "title": f"第{quarter + 1}季度关爱活动",
                "held_on": held.isoformat(), "participants": came,
                "workers": [workers[town]["id"]] if town in workers else []}, "activities")

    def certify(self, workers):
        """The worker without a certificate passes the exam this year."""
        for worker in workers.values():
            if worker.get("certificate_level") is None:
                on = max(date(self.today.year, 1, 15), self.start)
                self.write(f"/workers/{worker['id']}/certify", {
                    "certificate_level": "assistant", "certified_year": self.today.year,
                    "effective_date": min(on, self.today).isoformat()}, "certifications",
                    status=(200, 201))


    def certificate_holders(self):
        """The civil-affairs roster of certificate holders working in the county: ten who passed
        in earlier years, four this year (up 40% on the year before, as the seed's 玉溪)."""
        for i in range(14):
            passed = self.today.year if i >= 10 else self.start.year - 1 - i % 3
            body = {"certificate_number": f"{passed}{self.county.code}{i:04d}",
                    "name": name_of(200 + i), "level": ("assistant", "intermediate")[i % 2],
                    "passed_year": passed, "township_code": self.stations[i % STATIONS].code}
            if i == 0 and post(self.base_url, self.token, "/certificates", body)[0] == 404:
                self.say("no certificate roster in this hub: skipped")      # an older hub
                return
            # the first is there already (201 above): 409
            self.write("/certificates", body, "certificate holders", status=(201, 409))
        self.say(f"{self.made['certificate holders']} certificate holders on the roster")


def load_year(base_url, token, county, progress=print, today=None):
    """A year of the county's work (YearOfWork); returns what was made."""
    return YearOfWork(base_url, token, county, progress, today).load()
