"""The hub chassis: what every Shegong Hub service shares (database, events, HTTP, metrics)."""
import os
import warnings

# psycopg's C build blocks the eventlet hub unless it waits with select(): this must be set
# before psycopg is first imported, so it is set as soon as anything of the hub is.
os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_select")

# eventlet 0.41 announces its own deprecation on import; nameko 2.14 needs it all the same.
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
