"""Settings from the environment: defaults for a demo hub, and a bad value named with what it
expects, as a one-line error of the `hub` command rather than a traceback."""
import pytest
from click.testing import CliRunner

from hub.config import Settings, SettingsError
from tooling.cli import main


def test_an_empty_environment_is_a_local_demo_hub():
    s = Settings.from_env({})
    assert (s.db_prefix, s.port_offset, s.relay_batch, s.amqp_ssl) == ("hub", 0, 500, False)
    assert Settings.from_env({"HUB_PORT_OFFSET": "100", "HUB_AMQP_SSL": "1"}).port_offset == 100


@pytest.mark.parametrize("variable, value, expected", [
    ("HUB_PORT_OFFSET", "abc", "must be a whole number"),
    ("HUB_PORT_OFFSET", "-5", "greater than or equal to 0"),
    ("HUB_RETRY_BASE_SECONDS", "soon", "must be a number"),
    ("HUB_AMQP_SSL", "maybe", "must be 1 or 0"),
    ("HUB_DB_PREFIX", "Hub-1", "lower-case letter"),
])
def test_a_bad_value_names_the_variable_and_what_it_expects(variable, value, expected):
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({variable: value})
    assert caught.value.variables == [variable]
    assert str(caught.value).startswith(f"{variable}={value!r}: ") and expected in str(caught.value)


def test_the_hub_command_says_so_in_one_line():
    result = CliRunner().invoke(main, ["status"], env={"HUB_PORT_OFFSET": "abc"})
    assert result.exit_code == 1
    assert result.output == "Error: HUB_PORT_OFFSET='abc': must be a whole number\n"
