"""`hub subscriber …`: read-only event queues for other government systems (added to `hub` by
tooling/cli.py). The work is done by tooling.subscribers; these commands parse and print."""
import click
import psycopg

from hub.broker_admin import BrokerAdminError
from tooling.environment import settings
from tooling.patterns import PatternError, event_types, matching_types, parse_patterns
from tooling.resend import ResendError
from tooling.subscribers import SubscriberError


def _settings():
    return settings(keys=False)      # subscribers touch no personal data and issue no tokens


def run_action(action, *args, **kwargs):
    """Run a tooling.subscribers or tooling.resend action; its errors become a clear message and exit
    status 1."""
    try:
        return action(*args, **kwargs)
    except (SubscriberError, PatternError, ResendError, BrokerAdminError) as exc:
        raise click.ClickException(str(exc)) from None
    except psycopg.OperationalError as exc:          # replay reads the services' databases
        raise click.ClickException(f"cannot read the hub's events: {exc}") from None


def resend_start(command):
    """The options that say where a resend starts (--since, --after-event) and --quiet."""
    for option in reversed([
            click.option("--since", default=None, metavar="DATE",
                         help="events published since this date or date-time (ISO; local time "
                              "unless it has an offset)"),
            click.option("--after-event", default=None, metavar="ID",
                         help="events published after this event (its CloudEvents id)"),
            click.option("--quiet", is_flag=True, help="no progress bar")]):
        command = option(command)
    return command


@click.group("subscriber")
def subscriber_group():
    """Subscribers: a read-only broker user with its own queue of the event types it asked for."""


@subscriber_group.command("create")
@click.argument("name")
@click.option("--events", "events_text", required=True, metavar="PATTERN[,PATTERN…]",
              help="event types or AMQP topic patterns: client.registered.v1, client.#, #")
@click.option("--password", default=None, envvar="HUB_SUBSCRIBER_PASSWORD",
              help="the broker password to give it (default: a generated one, printed once)")
@click.option("--address", default=None, metavar="HOST[:PORT]",
              help="the broker's address as the subscriber reaches it, for the printed URI "
                   "(default: the hub's own)")
def create_command(name, events_text, password, address):
    """Create subscriber NAME: user and queue `<prefix>.sub.NAME`, bound to --events."""
    from tooling import subscribers
    s = _settings()
    patterns = run_action(parse_patterns, events_text)
    made = run_action(subscribers.create, s, name, patterns, password=password, address=address)
    types = matching_types(patterns)
    click.echo(f"subscriber {name} created\n"
               f"  user and queue : {made.queue} (it may only read this queue and "
               f"{subscribers.rejected_queue(made.queue)})\n"
               f"  events         : {', '.join(patterns)} ({len(types)} type(s) today)\n"
               f"  AMQP URI       : {made.uri}\n"
               + ("The password is shown only this once: hand the URI over safely.\n"
                  if not password else "")
               + f"Try it: python docs/examples/subscriber.py --uri '{made.uri}'\n"
               f"It receives events published from now on; for earlier ones: "
               f"hub subscriber replay {name} --since DATE")


@subscriber_group.command("list")
def list_command():
    """The subscribers, their event patterns and what waits in their queues."""
    from tooling import subscribers
    found = run_action(subscribers.list_subscribers, _settings())
    for sub in found:
        if not sub["queue_exists"]:
            click.echo(f"{sub['name']:24} user {sub['user']} has no queue: delete and create it")
            continue
        click.echo(f"{sub['name']:24} queue {sub['queue']}  waiting={sub['messages']} "
                   f"consumers={sub['consumers']} rejected={sub['rejected']}  "
                   f"events={','.join(sub['patterns'])}")
    click.echo(f"{len(found)} subscriber(s)")


@subscriber_group.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="do not ask")
def delete_command(name, yes):
    """Delete subscriber NAME: its user (connections close) and queues with what is in them."""
    from tooling import subscribers
    s = _settings()
    if not yes:
        click.confirm(f"Delete subscriber {name}, its broker user and its queues with the "
                      "events waiting in them?", abort=True)
    waiting = run_action(subscribers.delete, s, name)
    click.echo(f"deleted subscriber {name} ({waiting} waiting event(s) dropped)")


@subscriber_group.command("replay")
@click.argument("name")
@resend_start
def replay_command(name, since, after_event, quiet):
    """Publish again into NAME's queue the events of its types already published.

    They keep their CloudEvents id: a subscriber that has them already sees duplicates."""
    from tooling import resend, subscribers
    s = _settings()
    moment = run_action(resend.parse_since, since) if since else None
    sent = run_action(subscribers.replay, s, name, since=moment, after_event=after_event,
                progress=not quiet)
    start = f"since {moment.isoformat()}" if moment else f"after event {after_event}"
    click.echo(f"replayed {sent} event(s) {start} into {subscribers.user_name(s, name)}")


@subscriber_group.command("types")
@click.argument("patterns", required=False)
def types_command(patterns):
    """The event types a subscriber can ask for (those PATTERNS match, if given)."""
    types = event_types()
    if patterns:
        types = matching_types(run_action(parse_patterns, patterns, types), types)
    for key in types:
        click.echo(key)
