"""``esb auth``: make the hashes that ``ESB_API__AUTH__*`` settings hold.

``esb auth hash-password`` asks for a password (twice, not echoed) and prints
its scrypt hash; ``esb auth new-key`` prints a fresh random API key once and
the hash to configure. Neither ever writes the password or key to a log.
"""

from __future__ import annotations

import secrets

import click

from bus.api.auth_credentials import hash_api_key, hash_password
from bus.api.auth_policy import ROLES

__all__ = ["auth"]


@click.group()
def auth() -> None:
    """Credentials of the HTTP API: password hashes and API keys."""


@auth.command("hash-password")
@click.option("--user", help="Also print the ESB_API__AUTH__USERS__<user> line for this user.")
@click.option("--role", type=click.Choice(ROLES), default="operator", show_default=True)
@click.password_option("--password", prompt="Password", help="Prompted for when omitted.")
def hash_password_command(user: str | None, role: str, password: str) -> None:
    """Print the scrypt hash of a password, for ESB_API__AUTH__USERS__<name>=<role>:<hash>."""
    hashed = hash_password(password)
    if user:
        click.echo(f"ESB_API__AUTH__USERS__{user}={role}:{hashed}")
    else:
        click.echo(hashed)


@auth.command("new-key")
@click.argument("system")
@click.option("--role", type=click.Choice(ROLES), default="integrator", show_default=True)
def new_key(system: str, role: str) -> None:
    """A new random API key for SYSTEM (shown once) and the setting that accepts it."""
    key = secrets.token_urlsafe(32)
    click.echo(f"API key for {system} (give it to the system; it is not stored): {key}", err=True)
    click.echo(f"ESB_API__AUTH__API_KEYS__{system}={role}:{hash_api_key(key)}")
