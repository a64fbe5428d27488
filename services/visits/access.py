"""Who may change what in visits: station staff record visits of their own township; county
admins set the policy and open verification rounds. Read-only roles only read."""
from hub.errors import Forbidden

WRITERS = ("station_worker", "township_admin", "county_admin")


def require_writer(principal, township_code=None):
    if principal.role not in WRITERS:
        raise Forbidden(f"The role {principal.role} may only read visits.",
                        fields={"role": [f"one of {', '.join(WRITERS)} is needed"]})
    if (township_code and principal.role != "county_admin" and principal.township
            and principal.township != township_code):
        raise Forbidden("This is another station's record.", fields={
            "township_code": [f"{township_code} is not your station ({principal.township})"]})


def require_county_admin(principal):
    if principal.role != "county_admin":
        raise Forbidden("Only a county admin may do this.",
                        fields={"role": ["county_admin is needed"]})
