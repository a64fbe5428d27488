"""The guard that reads every test hub's events for personal detail must itself catch leaks."""
from support.pii import leaks, remember


def event(data):
    return {"id": "e1", "type": "x.v1", "data": data}


def test_clean_event_passes():
    assert leaks(event({"visit_id": "56a59595-1ada-494f-a13e-a19412345678",   # 11 digits in a uuid
                        "client_id": "0b3f5c1e-2d4a-4c8e-9f00-123456789abc",
                        "village_code": "341721100001", "amount_fen": 13900001111 * 10})) == []


def test_each_kind_of_leak_is_caught():
    assert leaks(event({"client": {"name": "x"}})) == ["name"]
    assert leaks(event({"note": "ID 34172119900101123X here"})) == ["ID number 341…"]
    assert leaks(event({"reason": "call 13900001111"})) == ["mobile number 139…"]
    remember("王小明")
    assert leaks(event({"title": "探访王小明"})) == ["test data '王小明'"]
