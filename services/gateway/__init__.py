"""The gateway: the hub's one HTTP entry point in front of every service."""
