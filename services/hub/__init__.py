"""The hub chassis: what every Shegong Hub service shares (database, events, HTTP, metrics)."""
import warnings

# eventlet 0.41 announces its own deprecation on import; nameko 2.14 needs it all the same.
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
