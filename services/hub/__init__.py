"""The hub chassis: what every Shegong Hub service shares (database, events, HTTP, metrics)."""
