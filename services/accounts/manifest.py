"""Accounts, the users and their sessions, as the hub knows it (see hub/manifest.py)."""
from hub.manifest import Manifest

MANIFEST = Manifest(
    name="accounts",
    port=8005,
    service="accounts.service:AccountsService",
    description="users, passwords and login sessions (the console's log in)",
    paths=("session", "users"),
    events="contracts.events.accounts",
    commands=("accounts.commands:user_group",),
)
