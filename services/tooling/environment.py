"""The operator's environment: var/ (HUB_VAR_DIR), var/hub.env (`hub secrets`) and the settings
every `hub` command reads from them and the process environment."""
import os
from pathlib import Path

import click

from hub.config import REPO_ROOT, Settings, SettingsError

VAR = Path(os.environ.get("HUB_VAR_DIR", REPO_ROOT / "var"))
ENV_FILE = Path(os.environ.get("HUB_ENV_FILE", VAR / "hub.env"))


def load_env_file():
    """Fill unset variables from var/hub.env (written by `hub secrets`); the environment wins."""
    if ENV_FILE.exists():
        for line in ENV_FILE.read_text().splitlines():
            if "=" in line and not line.lstrip().startswith("#"):
                key, value = line.split("=", 1)
                os.environ.setdefault(key.strip(), value.strip())


def settings(keys=True):
    """The hub's settings; with keys=False for commands that never touch personal data or tokens."""
    load_env_file()
    try:
        s = Settings.from_env()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    missing = [v for v, val in (("HUB_DATA_KEY", s.data_key), ("HUB_JWT_SECRET", s.jwt_secret))
               if not val]
    if missing and keys:
        raise click.ClickException(f"{', '.join(missing)} not set: run `hub secrets` (make run does) "
                                   "or set them in the environment.")
    try:
        s.county
    except ValueError as exc:
        raise click.ClickException(str(exc))
    return s
