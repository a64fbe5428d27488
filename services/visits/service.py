"""The visits service: its HTTP API, its consumer of intake's client events, and the overdue sweep."""
import logging
import os

from nameko.timer import timer

from hub import call_groups
from hub.access import COUNTY_ADMINS, STAFF, station_of
from hub.errors import HubError
from hub.group_commit import commit_together
from hub.http import api
from hub.inbox import handle_events
from hub.service import HubService
from visits import activities, consumers, records, roster, rounds, sweep, unplanned
from visits import policy as policies
from visits.domain import today
from visits.schemas import (
    ActivityCreateSchema,
    ActivityPageSchema,
    ActivityQuerySchema,
    ActivitySchema,
    CompleteSchema,
    MissedSchema,
    PolicyOutSchema,
    PolicySchema,
    ReassignSchema,
    RoundCloseSchema,
    RoundCreateSchema,
    RoundPageSchema,
    RoundQuerySchema,
    RoundSchema,
    SummaryQuerySchema,
    SweepResultSchema,
    UnplannedSchema,
    VisitPageSchema,
    VisitQuerySchema,
    VisitSchema,
    WorkerListSchema,
)

log = logging.getLogger(__name__)

SWEEP_SECONDS = float(os.environ.get("VISITS_SWEEP_SECONDS", "300"))
VISIT = "/api/v1/visits/<visit_id>"
ROUND = "/api/v1/verification-rounds/<round_id>"


class VisitsService(HubService):
    name = "visits"
    record_tables = {"visit_id": "visits", "activity_id": "activities"}
    roster = roster.RosterLoader()

    @property
    def county(self):
        return self.db.settings.county

    # -- events and the sweep -------------------------------------------------------------------
    @handle_events(*consumers.PATTERNS, batch=True)
    def on_events(self, tx, events):
        """intake's client events and resources' worker events, a batch at a time."""
        consumers.on_events(tx, today(), events)

    @timer(interval=SWEEP_SECONDS, eager=True)
    def sweep_periodically(self):
        try:
            sweep.run(self.db, self.county, today())
        except Exception as exc:   # the database may be away: the next tick tries again
            log.warning("overdue sweep failed: %s", exc)

    # -- visits -----------------------------------------------------------------------------------
    @api("GET", "/api/v1/visits", query=VisitQuerySchema, responds=VisitPageSchema, access=STAFF)
    def list_visits(self, call):
        """Visits, filtered by status, place, worker, client, round, escalation and due dates."""
        rows, next_cursor = records.search(call.tx, call.query)
        return {"items": [self._visit(r) for r in rows], "next_cursor": next_cursor}

    @api("GET", "/api/v1/visits/summary", query=SummaryQuerySchema, access=STAFF)
    def visit_summary(self, call):
        """Open visits per township: scheduled, due, overdue, escalated, unassigned."""
        return records.summary(call.tx, call.query.get("township_code"))

    @api("GET", "/api/v1/visits/workers", query=SummaryQuerySchema, responds=WorkerListSchema,
         access=STAFF)
    def list_workers(self, call):
        """The workers visits are given to, with their open visits and this week's load."""
        rows = roster.workers_with_load(call.tx, call.query.get("township_code"), today())
        return WorkerListSchema().dump({"items": rows})

    @api("POST", "/api/v1/visits/overdue-sweep", transaction=False, responds=SweepResultSchema,
         access=COUNTY_ADMINS)
    def sweep_now(self, call):
        """Run the overdue sweep now (it also runs every few minutes by itself)."""
        return SweepResultSchema().dump(sweep.run(self.db, self.county, today()))

    @api("GET", VISIT, responds=VisitSchema, access=STAFF)
    def get_visit(self, call, visit_id):
        return self._visit(records.get(call.tx, visit_id))

    @api("POST", VISIT + "/complete", body=CompleteSchema, responds=VisitSchema, access=STAFF)
    def complete_visit(self, call, visit_id):
        """Record a visit as done; the next one is planned from the policy."""
        return self._visit(records.complete(call.tx, policies.load(call.tx), today(), visit_id,
                                            call.body, call.principal))

    @api("POST", "/api/v1/visits", body=UnplannedSchema, status=201, responds=VisitSchema,
         access=STAFF, batch=True)
    def record_unplanned_visit(self, calls):
        """Record a visit nobody planned, already done; the client's next visit is re-planned
        as completing one would. The same `id` again answers the visit already recorded. Visits
        recorded together (a sync's) are committed together (hub/group_commit.py)."""
        return commit_together(self.db, calls, self._record_unplanned)

    def _record_unplanned(self, tx, calls):
        outcomes = unplanned.record_all(tx, policies.load(tx), today(), [
            unplanned.Request(c.body, c.principal, station_of(c.principal, c.access), c.stop_on)
            for c in calls])
        return [o if isinstance(o, HubError) else self._visit(o) for o in outcomes]

    @api("POST", VISIT + "/missed", body=MissedSchema, responds=VisitSchema, access=STAFF)
    def miss_visit(self, call, visit_id):
        """Record that a visit did not happen; a retry is planned soon."""
        return self._visit(records.missed(call.tx, policies.load(call.tx), today(), visit_id,
                                          call.body, call.principal))

    @call_groups.route(access=STAFF)
    def call_group(self, call, routes):
        """The sync's visit operations (record, complete, miss), as one call of the hub's own
        (hub/call_groups.py)."""
        return call_groups.run(self, call, routes)

    @api("POST", VISIT + "/reassign", body=ReassignSchema, responds=VisitSchema,
         access=STAFF)
    def reassign_visit(self, call, visit_id):
        """Give a visit to another worker of its station (who has room that week)."""
        return self._visit(records.reassign(call.tx, policies.load(call.tx), today(), visit_id,
                                            call.body, call.principal))

    # -- policy -------------------------------------------------------------------------------------
    @api("GET", "/api/v1/visit-policy", responds=PolicyOutSchema, access=STAFF)
    def get_policy(self, call):
        """The county's visit policy."""
        return PolicyOutSchema().dump(policies.current(call.tx, self.county))

    @api("PUT", "/api/v1/visit-policy", body=PolicySchema, responds=PolicyOutSchema,
         access=COUNTY_ADMINS)
    def put_policy(self, call):
        """Replace the visit policy; open plans are re-dated from its effective date."""
        return PolicyOutSchema().dump(policies.replace(call.tx, self.county, call.body,
                                                       call.principal.subject, today()))

    # -- verification rounds ---------------------------------------------------------------------------
    @api("POST", "/api/v1/verification-rounds", body=RoundCreateSchema, status=201,
         responds=RoundSchema, access=COUNTY_ADMINS)
    def open_round(self, call):
        """Open a verification round: every active client of the categories gets a visit."""
        return RoundSchema().dump(rounds.open_round(call.tx, policies.load(call.tx), self.county,
                                                    today(), call.body, call.principal.subject))

    @api("GET", "/api/v1/verification-rounds", query=RoundQuerySchema, responds=RoundPageSchema,
         access=STAFF)
    def list_rounds(self, call):
        rows, next_cursor = rounds.search(call.tx, call.query)
        return {"items": RoundSchema(many=True).dump(rows), "next_cursor": next_cursor}

    @api("GET", ROUND, responds=RoundSchema, access=STAFF)
    def get_round(self, call, round_id):
        """A verification round with its progress, in total and by township."""
        return RoundSchema().dump(rounds.get(call.tx, round_id))

    @api("POST", ROUND + "/close", body=RoundCloseSchema, responds=RoundSchema,
         access=COUNTY_ADMINS)
    def close_round(self, call, round_id):
        return RoundSchema().dump(rounds.close_round(call.tx, round_id, call.body, today(),
                                                     call.principal.subject))

    # -- group activities ----------------------------------------------------------------------------
    @api("POST", "/api/v1/activities", body=ActivityCreateSchema, status=201,
         responds=ActivitySchema, access=STAFF)
    def record_activity(self, call):
        """Record a group activity; each participant counts one person-time (人次)."""
        return ActivitySchema().dump(activities.record(call.tx, self.county, call.body,
                                                       call.principal.subject))

    @api("GET", "/api/v1/activities", query=ActivityQuerySchema, responds=ActivityPageSchema,
         access=STAFF)
    def list_activities(self, call):
        rows, next_cursor = activities.search(call.tx, call.query)
        return {"items": ActivitySchema(many=True).dump(rows), "next_cursor": next_cursor}

    @api("GET", "/api/v1/activities/<activity_id>", responds=ActivitySchema, access=STAFF)
    def get_activity(self, call, activity_id):
        return ActivitySchema().dump(activities.get(call.tx, activity_id))

    @staticmethod
    def _visit(row):
        return VisitSchema().dump(records.present(row, today()))
