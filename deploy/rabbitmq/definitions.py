#!/usr/bin/env python3
"""RabbitMQ definitions for a county hub and for the province: the command line of
tooling/deploy/broker.py (its docstring and `--help` say more).

    definitions.py county 341721 [--passwords-from-env] > county-341721.json
    definitions.py province [--county 341721=amqps://hub-341721.example:5671] > province.json
    definitions.py add-county 341721 --county-broker amqps://hub-341721.example:5671 [--apply]

The committed examples county-341721.json and province.json are rendered by `hub deploy render`.
"""
import sys
from pathlib import Path

try:
    import hub  # noqa: F401  (installed: the service image, or `pip install -e .`)
except ImportError:  # run from a checkout without the package installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "services"))

# what the tests import from this file, besides the command line
from tooling.deploy.broker import (  # noqa: E402,F401
    DELIVERY_LIMIT,
    county_definitions,
    county_roles,
    data_services,
    hub_subscriptions,
    ingest_names,
    main,
    province_definitions,
    province_roles,
)

if __name__ == "__main__":
    main()
