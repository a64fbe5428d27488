"""The resources service: its HTTP API, and one consumer of client.* and needs.identified events."""
from functools import lru_cache

from hub.access import COUNTY_ADMINS, STAFF, TOWNSHIP_ADMINS
from hub.group_commit import commit_together
from hub.http import api
from hub.inbox import handle_events
from hub.service import HubService
from resources import (
    allocations,
    certificates,
    consumers,
    donations,
    needs,
    projects,
    providers,
    referrals,
    volunteers,
    workers,
)
from resources import schemas as s

V1 = "/api/v1"


@lru_cache(maxsize=None)
def show(schema_cls):
    """One reusable instance of a response schema (building one per request costs more)."""
    return schema_cls()


def page(schema, rows, next_cursor, present=dict):
    return {"items": [show(schema).dump(present(r)) for r in rows], "next_cursor": next_cursor}


def allocate_calls(tx, calls):
    """The answers to allocation calls decided together: an allocation, or the error."""
    outcomes = allocations.allocate_all(tx, [(c.body, c.principal.subject) for c in calls])
    return [o if isinstance(o, Exception) else
            show(s.AllocationSchema).dump(allocations.present(o)) for o in outcomes]


class ResourcesService(HubService):
    name = "resources"
    record_tables = {"provider_id": "providers", "donation_id": "donations",
                     "allocation_id": "allocations", "need_id": "needs", "worker_id": "workers",
                     "volunteer_id": "volunteers", "referral_id": "referrals",
                     "holder_id": "certificate_holders"}

    @handle_events(*consumers.PATTERNS, batch=True)
    def on_events(self, tx, events):
        """Keep the view of clients, and open the needs visits found, a batch at a time."""
        consumers.on_events(tx, events)

    # -- providers -------------------------------------------------------------------------------
    @api("POST", V1 + "/providers", body=s.ProviderCreateSchema, status=201,
         responds=s.ProviderSchema, access=TOWNSHIP_ADMINS)
    def register_provider(self, call):
        """Register a donor or partner."""
        row = providers.register(call.tx, self.db.settings, call.body, call.principal.subject)
        return show(s.ProviderSchema).dump(row)

    @api("GET", V1 + "/providers", query=s.ProviderQuerySchema,
         responds=s.page_of(s.ProviderSchema), access=STAFF)
    def list_providers(self, call):
        return page(s.ProviderSchema, *providers.search(call.tx, call.query))

    @api("GET", V1 + "/providers/<provider_id>", responds=s.ProviderSchema, access=STAFF)
    def get_provider(self, call, provider_id):
        return show(s.ProviderSchema).dump(providers.get(call.tx, provider_id))

    # -- donations -------------------------------------------------------------------------------
    @api("POST", V1 + "/donations", body=s.DonationCreateSchema, status=201,
         responds=s.DonationSchema, access=TOWNSHIP_ADMINS)
    def receive_donation(self, call):
        """Record money or goods received; the answer shows what remains."""
        row = donations.receive(call.tx, self.db.settings, call.body, call.principal.subject)
        return show(s.DonationSchema).dump(donations.present(row))

    @api("GET", V1 + "/donations", query=s.DonationQuerySchema,
         responds=s.page_of(s.DonationSchema), access=STAFF)
    def list_donations(self, call):
        return page(s.DonationSchema, *donations.search(call.tx, call.query), donations.present)

    @api("GET", V1 + "/donations/<donation_id>", responds=s.DonationSchema, access=STAFF)
    def get_donation(self, call, donation_id):
        return show(s.DonationSchema).dump(donations.present(donations.get(call.tx, donation_id)))

    # -- allocations ------------------------------------------------------------------------------
    @api("POST", V1 + "/allocations", body=s.AllocationCreateSchema, status=201,
         responds=s.AllocationSchema, access=STAFF, batch=True)
    def allocate(self, calls):
        """Give part of a donation to a client; never more than remains.

        Concurrent calls are decided together in one transaction, in the order they arrived,
        each answered as if it had run alone (hub/group_commit.py).
        """
        return commit_together(self.db, calls, allocate_calls)

    @api("GET", V1 + "/allocations", query=s.AllocationQuerySchema,
         responds=s.page_of(s.AllocationSchema), access=STAFF)
    def list_allocations(self, call):
        return page(s.AllocationSchema, *allocations.search(call.tx, call.query),
                    allocations.present)

    @api("GET", V1 + "/allocations/<allocation_id>", responds=s.AllocationSchema, access=STAFF)
    def get_allocation(self, call, allocation_id):
        return show(s.AllocationSchema).dump(allocations.present(allocations.get(call.tx,
                                                                             allocation_id)))

    @api("POST", V1 + "/allocations/<allocation_id>/reverse", body=s.ReverseSchema,
         responds=s.AllocationSchema, access=TOWNSHIP_ADMINS)
    def reverse_allocation(self, call, allocation_id):
        """Reverse a mistaken allocation, with a reason; the amount goes back to the donation."""
        row = allocations.reverse(call.tx, allocation_id, call.body, call.principal.subject)
        return show(s.AllocationSchema).dump(allocations.present(row))

    # -- needs ------------------------------------------------------------------------------------
    @api("POST", V1 + "/needs", body=s.NeedCreateSchema, status=201, responds=s.NeedSchema,
         access=STAFF)
    def record_need(self, call):
        """Record a need found outside a visit (visits' needs arrive as events)."""
        return show(s.NeedSchema).dump(needs.create(call.tx, call.body, call.principal.subject))

    @api("GET", V1 + "/needs", query=s.NeedQuerySchema, responds=s.page_of(s.NeedSchema),
         access=STAFF)
    def list_needs(self, call):
        return page(s.NeedSchema, *needs.search(call.tx, call.query))

    @api("GET", V1 + "/needs/<need_id>", responds=s.NeedSchema, access=STAFF)
    def get_need(self, call, need_id):
        """A need, with the donations suggested for it while it is open."""
        return show(s.NeedSchema).dump(needs.get(call.tx, need_id))

    # -- workers ----------------------------------------------------------------------------------
    @api("POST", V1 + "/workers", body=s.WorkerCreateSchema, status=201, responds=s.WorkerSchema,
         access=TOWNSHIP_ADMINS)
    def register_worker(self, call):
        return show(s.WorkerSchema).dump(workers.register(call.tx, self.db.settings, call.body,
                                                      call.principal.subject))

    @api("GET", V1 + "/workers", query=s.WorkerQuerySchema, responds=s.page_of(s.WorkerSchema),
         access=STAFF)
    def list_workers(self, call):
        return page(s.WorkerSchema, *workers.search(call.tx, call.query))

    @api("GET", V1 + "/workers/<worker_id>", responds=s.WorkerSchema, access=STAFF)
    def get_worker(self, call, worker_id):
        return show(s.WorkerSchema).dump(workers.get(call.tx, worker_id))

    @api("POST", V1 + "/workers/<worker_id>/certify", body=s.CertifySchema,
         responds=s.WorkerSchema, access=TOWNSHIP_ADMINS)
    def certify_worker(self, call, worker_id):
        """Record a (higher) certificate the worker obtained."""
        return show(s.WorkerSchema).dump(workers.certify(call.tx, self.db.settings, worker_id,
                                                     call.body, call.principal.subject))

    @api("POST", V1 + "/workers/<worker_id>/leave", body=s.LeaveSchema, responds=s.WorkerSchema,
         access=TOWNSHIP_ADMINS)
    def worker_leaves(self, call, worker_id):
        return show(s.WorkerSchema).dump(workers.leave(call.tx, worker_id, call.body,
                                                   call.principal.subject))

    # -- certificate holders ----------------------------------------------------------------------
    @api("POST", V1 + "/certificates", body=s.CertificateCreateSchema, status=201,
         responds=s.CertificateHolderSchema, access=TOWNSHIP_ADMINS)
    def record_certificate(self, call):
        """Add a holder of the social work certificate working in the county to the roster."""
        row = certificates.record(call.tx, self.db.settings, call.body, call.principal.subject)
        return show(s.CertificateHolderSchema).dump(certificates.present(row))

    @api("GET", V1 + "/certificates", query=s.CertificateQuerySchema,
         responds=s.page_of(s.CertificateHolderSchema), access=STAFF)
    def list_certificates(self, call):
        return page(s.CertificateHolderSchema, *certificates.search(call.tx, call.query),
                    certificates.present)

    @api("GET", V1 + "/certificates/<holder_id>", responds=s.CertificateHolderSchema,
         access=STAFF)
    def get_certificate(self, call, holder_id):
        row = certificates.get(call.tx, holder_id)
        return show(s.CertificateHolderSchema).dump(certificates.present(row))

    @api("PATCH", V1 + "/certificates/<holder_id>", body=s.CertificateChangeSchema,
         responds=s.CertificateHolderSchema, access=TOWNSHIP_ADMINS)
    def change_certificate(self, call, holder_id):
        """A higher level passed, a correction, another township, or left the area (or back)."""
        row = certificates.update(call.tx, self.db.settings, holder_id, call.body,
                                  call.principal.subject)
        return show(s.CertificateHolderSchema).dump(certificates.present(row))

    # -- volunteers -------------------------------------------------------------------------------
    @api("POST", V1 + "/volunteers", body=s.VolunteerCreateSchema, status=201,
         responds=s.VolunteerSchema, access=TOWNSHIP_ADMINS)
    def register_volunteer(self, call):
        """Register a real-name volunteer (the ID number is stored encrypted, shown masked)."""
        row = volunteers.register(call.tx, self.db.settings, call.body, call.principal.subject)
        return show(s.VolunteerSchema).dump(volunteers.present(row))

    @api("GET", V1 + "/volunteers", query=s.VolunteerQuerySchema,
         responds=s.page_of(s.VolunteerSchema), access=STAFF)
    def list_volunteers(self, call):
        return page(s.VolunteerSchema, *volunteers.search(call.tx, call.query),
                    volunteers.present)

    @api("GET", V1 + "/volunteers/<volunteer_id>", responds=s.VolunteerSchema, access=STAFF)
    def get_volunteer(self, call, volunteer_id):
        row = volunteers.get(call.tx, volunteer_id)
        return show(s.VolunteerSchema).dump(volunteers.present(row))

    @api("POST", V1 + "/volunteers/<volunteer_id>/hours", body=s.HoursSchema, status=201,
         responds=s.HoursEntrySchema, access=STAFF)
    def log_volunteer_hours(self, call, volunteer_id):
        """Log a volunteer's hours for an activity or a visit."""
        return show(s.HoursEntrySchema).dump(volunteers.log_hours(call.tx, volunteer_id, call.body,
                                                              call.principal.subject))

    # -- referrals --------------------------------------------------------------------------------
    @api("POST", V1 + "/referrals", body=s.ReferralCreateSchema, status=201,
         responds=s.ReferralSchema, access=STAFF)
    def refer(self, call):
        """Refer a client to a partner institution."""
        return show(s.ReferralSchema).dump(referrals.create(call.tx, call.body,
                                                        call.principal.subject))

    @api("GET", V1 + "/referrals", query=s.ReferralQuerySchema,
         responds=s.page_of(s.ReferralSchema), access=STAFF)
    def list_referrals(self, call):
        return page(s.ReferralSchema, *referrals.search(call.tx, call.query))

    @api("GET", V1 + "/referrals/<referral_id>", responds=s.ReferralSchema, access=STAFF)
    def get_referral(self, call, referral_id):
        return show(s.ReferralSchema).dump(referrals.get(call.tx, referral_id))

    @api("POST", V1 + "/referrals/<referral_id>/status", body=s.ReferralStatusSchema,
         responds=s.ReferralSchema, access=STAFF)
    def change_referral_status(self, call, referral_id):
        """Accept, complete or decline a referral (409 when that step is not allowed)."""
        return show(s.ReferralSchema).dump(referrals.change_status(call.tx, referral_id, call.body,
                                                               call.principal.subject))

    # -- projects ---------------------------------------------------------------------------------
    @api("POST", V1 + "/projects", body=s.ProjectCreateSchema, status=201,
         responds=s.ProjectSchema, access=COUNTY_ADMINS)
    def create_project(self, call):
        """Create a public-benefit project (公益创投项目)."""
        return show(s.ProjectSchema).dump(projects.create(call.tx, self.db.settings, call.body,
                                                      call.principal.subject))

    @api("GET", V1 + "/projects", query=s.ProjectQuerySchema, responds=s.page_of(s.ProjectSchema),
         access=STAFF)
    def list_projects(self, call):
        return page(s.ProjectSchema, *projects.search(call.tx, call.query))

    @api("GET", V1 + "/projects/<project_id>", responds=s.ProjectSchema, access=STAFF)
    def get_project(self, call, project_id):
        return show(s.ProjectSchema).dump(projects.get(call.tx, project_id))
