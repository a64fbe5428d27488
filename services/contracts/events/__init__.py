"""Every event type of the hub, one module per publishing service.

A module registers its types (hub.events.register) when imported; each service's manifest names
the module of the types it publishes, so `hub.events.load_contract()` knows them all.
"""
