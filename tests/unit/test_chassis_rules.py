"""Chassis rules that need no running parts: county files, crypto, tokens, event contracts."""
import base64
import os
import time
from pathlib import Path

import pytest
import yaml
from marshmallow import Schema, fields

from contracts.events import intake as intake_events  # noqa: F401  (registers the client events)
from hub import events as hub_events
from hub.auth import authenticate, issue_token
from hub.county import CountyConfigError, load_county
from hub.crypto import PersonalDataCipher, mask
from hub.errors import Unauthorized
from support.hub import test_settings

DEMO = Path(__file__).resolve().parents[2] / "deploy" / "counties" / "dongzhi-341721.yaml"


def test_demo_county_has_its_fifteen_township_stations():
    county = load_county(DEMO)
    assert (county.code, county.name) == ("341721", "东至县")
    assert len(county.townships) == 15
    assert all(t.station_opened_on for t in county.townships.values())
    assert county.township_of("341721101201").name == "东流镇"
    assert county.township_of("341721101999") is None       # not a listed village
    assert county.township_of("110101001001") is None


def test_a_bad_county_file_names_the_bad_key(tmp_path):
    bad = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    bad["townships"][2]["code"] = "110101001"
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad, allow_unicode=True), encoding="utf-8")
    with pytest.raises(CountyConfigError, match="townships.2.code"):
        load_county(path)
    with pytest.raises(CountyConfigError, match="cannot read"):
        load_county(tmp_path / "missing.yaml")


def test_personal_data_cipher_round_trips_and_authenticates():
    box = PersonalDataCipher(base64.b64encode(os.urandom(32)).decode())
    blob = box.encrypt("34172120050814123X", b"client-1")
    assert b"34172120050814123X" not in blob
    assert box.decrypt(blob, b"client-1") == "34172120050814123X"
    with pytest.raises(Exception):
        box.decrypt(blob, b"client-2")                        # bound to its client
    assert box.lookup_hash("x") == box.lookup_hash("x") != box.lookup_hash("y")
    assert mask("34172120050814123X") == "341***********123X"
    with pytest.raises(ValueError, match="HUB_DATA_KEY"):
        PersonalDataCipher("too-short")


def test_tokens_are_checked_for_signature_expiry_and_county():
    settings = test_settings()
    good = issue_token(settings, "u1", "station_worker", township="341721100")
    principal = authenticate(settings, f"Bearer {good}")
    assert (principal.role, principal.township) == ("station_worker", "341721100")
    other_hub = test_settings()                               # another secret
    for header in (None, "Basic abc", f"Bearer {good}x",
                   f"Bearer {issue_token(settings, 'u', 'auditor', ttl_seconds=-1)}",
                   f"Bearer {issue_token(other_hub, 'u', 'county_admin')}"):
        with pytest.raises(Unauthorized):
            authenticate(settings, header)
    with pytest.raises(ValueError, match="unknown role"):
        issue_token(settings, "u", "superuser")


def test_a_token_accepted_before_is_refused_once_it_expires():
    """Verified tokens are remembered (hub.auth._claims); expiry is checked on every call."""
    settings = test_settings()
    brief = issue_token(settings, "u1", "county_admin", ttl_seconds=2)
    assert authenticate(settings, f"Bearer {brief}").subject == "u1"
    assert authenticate(settings, f"Bearer {brief}").subject == "u1"      # remembered
    time.sleep(2.1)
    with pytest.raises(Unauthorized, match="expired"):
        authenticate(settings, f"Bearer {brief}")
    # remembered under its own hub's key only: another hub's secret does not accept it
    fresh = issue_token(settings, "u2", "county_admin")
    authenticate(settings, f"Bearer {fresh}")
    with pytest.raises(Unauthorized):
        authenticate(test_settings(), f"Bearer {fresh}")


def test_event_schemas_may_not_carry_personal_fields():
    class Leaky(Schema):
        client_id = fields.UUID()
        phone = fields.String()
    with pytest.raises(hub_events.EventContractError, match="phone"):
        hub_events.register("client.leaky", 1, Leaky, "intake")
    for etype in hub_events.REGISTRY.values():
        assert not hub_events.PERSONAL_FIELDS & set(etype.validator.fields), etype.key


def test_events_are_checked_against_their_schema():
    with pytest.raises(hub_events.EventContractError, match="unknown event type"):
        hub_events.make_event("client.exploded.v1", "/x", "client/1", {})
    with pytest.raises(hub_events.EventContractError, match="risk_level"):
        hub_events.make_event("client.registered.v1", "/x", "client/1", {"risk_level": "x"})
    with pytest.raises(hub_events.EventContractError, match="not a CloudEvent"):
        hub_events.check_event({"id": "1"})
