"""Accounts: the hub's users, their passwords and their login sessions."""
