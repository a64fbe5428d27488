"""Toy: a small service that lives only under tests/, to show a new service needs no chassis
change: a route, a consumer, an event type of its own, a database and a `hub` command."""
