"""Keyset pagination (hub.pagination), shared by every list endpoint, on a real table."""
import psycopg
import pytest

from hub.db import Database
from hub.errors import ValidationFailed
from hub.migrate import migrate
from hub.pagination import keyset_page
from tooling.privileges import provision


@pytest.fixture(scope="module")
def db(settings):
    migrate(settings, "intake")
    provision(settings, ["intake"])
    # the table is made as migrations make tables (by the admin); the service's role pages it
    with psycopg.connect(settings.database_dsn("intake"), autocommit=True) as admin:
        admin.execute("CREATE TABLE IF NOT EXISTS page_demo (seq int PRIMARY KEY, kind text)")
        admin.execute("TRUNCATE page_demo")
        admin.execute("INSERT INTO page_demo SELECT n, CASE WHEN n % 2 = 0 THEN 'even' ELSE "
                      "'odd' END FROM generate_series(1, 7) n")
    database = Database(settings, "intake", max_size=2)
    yield database
    database.close()


def walk(db, where, params, limit, tag="c"):
    seen, cursor = [], None
    while True:
        with db.transaction() as tx:
            rows, cursor = keyset_page(tx, "SELECT seq FROM page_demo", where, params,
                                       {"limit": limit, "cursor": cursor}, tag=tag)
        seen.append([r["seq"] for r in rows])
        if cursor is None:
            return seen


def test_pages_with_named_and_positional_parameters(db):
    assert walk(db, [], {}, 3) == [[1, 2, 3], [4, 5, 6], [7]]
    assert walk(db, ["kind = %(kind)s"], {"kind": "odd"}, 2) == [[1, 3], [5, 7]]
    assert walk(db, ["kind = %s"], ["even"], 2, tag="r") == [[2, 4], [6]]
    assert walk(db, ["kind = %s"], ["none"], 2) == [[]]


def test_a_cursor_from_another_list_is_refused(db):
    with db.transaction() as tx:
        _, cursor = keyset_page(tx, "SELECT seq FROM page_demo", [], {}, {"limit": 2}, tag="r")
        with pytest.raises(ValidationFailed):
            keyset_page(tx, "SELECT seq FROM page_demo", [], {}, {"limit": 2, "cursor": cursor})
