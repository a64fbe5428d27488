"""The `hub stats …` and `hub province …` commands (stats' manifest adds them to `hub`)."""
import click

from stats.role import StatsConfig


def _settings():
    """The hub's settings, loaded as the `hub` command loads them (its context object)."""
    return click.get_current_context().obj()


@click.group("stats")
def stats_group():
    """Figures: rebuild them from the event archive."""


@stats_group.command("rebuild")
@click.option("--batch", default=50000, show_default=True, help="events per step")
@click.option("--quiet", is_flag=True, help="no progress bar")
def rebuild_command(batch, quiet):
    """Recompute every figure from the archive (the county's outboxes; the province's received
    events). Live consumers wait while it runs, then carry on."""
    from stats.rebuild import rebuild
    totals = rebuild(_settings(), StatsConfig.from_env(), progress=not quiet, batch=batch)
    click.echo(f"rebuilt from {totals['events']} event(s): {totals['counted']} counted, "
               f"{totals['ignored']} of types without figures")


@click.group("province")
def province_group():
    """The provincial (or a prefecture's) aggregator: link county hubs to it, forward a
    prefecture's to the province (run on the aggregator's broker host)."""


def _admin(settings):
    """The province broker's management API (HUB_AMQP_ADMIN_URL, HUB_AMQP_ADMIN_URI's user)."""
    from hub.broker_admin import BrokerAdmin
    return BrokerAdmin.for_settings(settings)


@province_group.command("link")
@click.argument("county_code")
@click.option("--amqp-uri", required=True, help="the county hub's broker, e.g. "
              "amqp://user:pass@county-host:5672/vhost")
@click.option("--prefix", default="hub", show_default=True, help="the county hub's HUB_DB_PREFIX")
def link_command(county_code, amqp_uri, prefix):
    """Link COUNTY_CODE's hub to this province with a shovel (acknowledged on confirm)."""
    from stats import province
    s = _settings()
    try:
        name = province.link(county_code, amqp_uri, prefix, s.amqp_uri, s.db_prefix, _admin(s))
    except province.LinkError as exc:
        raise click.ClickException(str(exc))
    click.echo(f"linked {county_code}: shovel {name} moves {province.outbox_queue(prefix)} to "
               f"{province.ingest_exchange(s.db_prefix)}")


@province_group.command("unlink")
@click.argument("county_code")
def unlink_command(county_code):
    """Remove a county's shovel; its events wait in its outbox queue until it is linked again."""
    from stats import province
    try:
        s = _settings()
        province.unlink(county_code, s.amqp_uri, _admin(s))
    except province.LinkError as exc:
        raise click.ClickException(str(exc))
    click.echo(f"unlinked {county_code} (its events are kept on the county's broker)")


@province_group.command("forward")
@click.option("--upstream-uri", required=True, help="the province's broker, e.g. "
              "amqp://user:pass@province-host:5672/vhost")
@click.option("--upstream-prefix", default="hub", show_default=True,
              help="the province aggregator's HUB_DB_PREFIX")
def forward_command(upstream_uri, upstream_prefix):
    """A prefecture's aggregator: forward everything its counties' links deliver to the
    province's aggregator, with a shovel (acknowledged on confirm)."""
    from stats import province
    s = _settings()
    try:
        config = StatsConfig.from_env()
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    if config.role != "prefecture":
        raise click.ClickException("only a prefecture's aggregator forwards to the province: "
                                   f"HUB_ROLE is {config.role!r}, not 'prefecture'")
    if upstream_uri == s.amqp_uri and upstream_prefix == s.db_prefix:
        raise click.ClickException("the upstream is this aggregator itself: give the province's "
                                   "broker (--upstream-uri) and prefix (--upstream-prefix)")
    try:
        name = province.forward(s.amqp_uri, s.db_prefix, upstream_uri, upstream_prefix,
                                _admin(s))
    except province.LinkError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"forwarding {config.province_code}: shovel {name} moves "
               f"{province.upward_queue(s.db_prefix)} to "
               f"{province.ingest_exchange(upstream_prefix)} at "
               f"{province.without_password(upstream_uri)}")


@province_group.command("unforward")
def unforward_command():
    """Stop forwarding to the province; what the counties deliver meanwhile waits in the upward
    queue until forwarding starts again."""
    from stats import province
    s = _settings()
    try:
        province.unforward(s.amqp_uri, _admin(s))
    except province.LinkError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"stopped forwarding (kept in {province.upward_queue(s.db_prefix)} meanwhile)")


@province_group.command("status")
def status_command():
    """Each county link's shovel state, lag and events received (and a prefecture's forwarding
    to the province)."""
    import psycopg
    from psycopg.rows import dict_row

    from stats import province
    s = _settings()
    try:
        states = province.links(s.amqp_uri, _admin(s))
        upward = province.forwarding(s.amqp_uri, _admin(s))
        if upward is not None:
            click.echo(f"forwarding to the province: shovel={upward}")
    except province.LinkError as exc:
        states = {}
        click.echo(f"(shovel states unavailable: {exc})")
    with psycopg.connect(s.database_dsn("stats"), row_factory=dict_row) as conn:
        rows = {r["county_code"]: r for r in conn.execute(
            "SELECT county_code, events, extract(epoch FROM now() - last_heartbeat_at) AS lag "
            "FROM stats_links")}
    for county in sorted(set(states) | set(rows)):
        row = rows.get(county, {})
        lag = row.get("lag")
        click.echo(f"{county}  shovel={states.get(county, 'none'):10} "
                   f"lag={'-' if lag is None else f'{float(lag):.0f}s':>6}  "
                   f"events={row.get('events', 0)}")
