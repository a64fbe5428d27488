"""`hub toy count`: the toy's own command, added to `hub` by its manifest."""
import click
import psycopg


@click.group("toy")
def toy_group():
    """The test-only toy service."""


@toy_group.command("count")
def count_command():
    """Print how many registered clients the toy has counted."""
    settings = click.get_current_context().obj()
    with psycopg.connect(settings.database_dsn("toy")) as conn:
        n = conn.execute("SELECT count(*) FROM toy_clients").fetchone()[0]
    click.echo(f"{n} client(s) counted")
