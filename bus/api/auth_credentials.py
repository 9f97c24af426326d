"""Credentials of the bus API: password and key hashes, signed session tokens, principals.

Everything here is the standard library: ``hashlib.scrypt`` for passwords,
SHA-256 for API keys (they are long random strings, a slow hash buys nothing),
HMAC-SHA256 for session tokens. Settings hold only hashes::

    ESB_API__AUTH__USERS__alice=operator:scrypt:16384:8:1:<salt>:<hash>
    ESB_API__AUTH__API_KEYS__billing=integrator:sha256:<hex digest of the key>

A session token is ``<payload>.<signature>``, both base64url: the payload is
JSON ``{"sub", "role", "exp"}``, the signature an HMAC of it with
``session_secret``. Tokens are checked by signature and expiry only; changing
the secret signs everybody out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any

import orjson

from bus.api.auth_policy import ROLES
from bus.errors import ConfigurationError
from bus.settings import AuthSettings

__all__ = [
    "ANONYMOUS",
    "OPEN",
    "Authenticator",
    "InvalidCredentials",
    "Principal",
    "hash_api_key",
    "hash_password",
    "verify_password",
]

log = logging.getLogger(__name__)

_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


class InvalidCredentials(Exception):
    """A key, token or password that does not check out (the reason goes to the caller)."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a person (``user``), a system (``key``), nobody, or anyone (open mode)."""

    name: str
    role: str
    kind: str  # "user" | "key" | "anonymous" | "open"

    @property
    def authenticated(self) -> bool:
        return self.kind in ("user", "key")

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "role": self.role, "kind": self.kind}


ANONYMOUS = Principal("anonymous", "", "anonymous")
OPEN = Principal("anonymous", "admin", "open")
"""The caller when no credentials are configured (loopback only): may do everything."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """``scrypt:<n>:<r>:<p>:<salt>:<hash>`` of ``password`` (fresh random salt)."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P,
                            dklen=32)
    return f"scrypt:{_SCRYPT_N}:{_SCRYPT_R}:{_SCRYPT_P}:{_b64(salt)}:{_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches a :func:`hash_password` string (constant time)."""
    try:
        scheme, n, r, p, salt, digest = stored.split(":")
        if scheme != "scrypt":
            return False
        expected = _unb64(digest)
        actual = hashlib.scrypt(password.encode(), salt=_unb64(salt), n=int(n), r=int(r),
                                p=int(p), dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def hash_api_key(key: str) -> str:
    """``sha256:<hex>`` of an API key, as settings store it."""
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def _role_and_secret(kind: str, name: str, value: str) -> tuple[str, str]:
    role, _, secret = value.partition(":")
    if role not in ROLES or not secret:
        raise ConfigurationError(
            f"ESB_API__AUTH__{kind}__{name} must be '<role>:<hash>' with a role among "
            f"{', '.join(ROLES)}")
    return role, secret


class Authenticator:
    """Checks API keys, passwords and session tokens against :class:`AuthSettings`."""

    def __init__(self, settings: AuthSettings) -> None:
        self.settings = settings
        self.users: dict[str, tuple[str, str]] = {
            name: _role_and_secret("USERS", name, value.get_secret_value())
            for name, value in settings.users.items()}
        self.keys: dict[str, tuple[str, str]] = {}
        for name, value in settings.api_keys.items():
            role, digest = _role_and_secret("API_KEYS", name, value.get_secret_value())
            if not digest.startswith("sha256:"):
                raise ConfigurationError(
                    f"ESB_API__AUTH__API_KEYS__{name} must hold a key hash "
                    "(esb auth new-key), not the key")
            self.keys[name] = (role, digest)
        secret = settings.session_secret.get_secret_value()
        if not secret and self.users:
            log.warning("ESB_API__AUTH__SESSION_SECRET is not set: session tokens are signed "
                        "with a random secret and end when this process stops")
        self._secret = secret.encode() if secret else secrets.token_bytes(32)
        self._dummy = hash_password(secrets.token_urlsafe(8))

    @property
    def configured(self) -> bool:
        return bool(self.users or self.keys)

    def by_key(self, key: str) -> Principal:
        digest = hash_api_key(key)
        found: Principal | None = None
        for name, (role, stored) in self.keys.items():  # every entry: no early timing exit
            if hmac.compare_digest(digest, stored):
                found = Principal(name, role, "key")
        if found is None:
            raise InvalidCredentials("unknown API key")
        return found

    def login(self, user: str, password: str) -> Principal:
        role, stored = self.users.get(user, ("", self._dummy))
        if not verify_password(password, stored) or not role:
            raise InvalidCredentials("wrong user name or password")
        return Principal(user, role, "user")

    def issue(self, principal: Principal, *, now: float | None = None) -> tuple[str, float]:
        """A signed session token for ``principal`` and when it expires (epoch seconds)."""
        expires = (time.time() if now is None else now) + self.settings.session_ttl
        payload = _b64(orjson.dumps({"sub": principal.name, "role": principal.role,
                                     "exp": int(expires)}))
        return f"{payload}.{self._sign(payload)}", float(int(expires))

    def by_token(self, token: str, *, now: float | None = None) -> Principal:
        payload, _, signature = token.partition(".")
        if not signature or not hmac.compare_digest(signature, self._sign(payload)):
            raise InvalidCredentials("session token is not valid")
        try:
            claims = orjson.loads(_unb64(payload))
            name, role, expires = str(claims["sub"]), str(claims["role"]), float(claims["exp"])
        except (ValueError, KeyError, TypeError):
            raise InvalidCredentials("session token is not valid") from None
        if expires <= (time.time() if now is None else now):
            raise InvalidCredentials("session token has expired")
        known = self.users.get(name)
        if known is None or known[0] != role:  # user removed or role changed since
            raise InvalidCredentials("session token is no longer valid")
        return Principal(name, role, "user")

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._secret, payload.encode(), hashlib.sha256).digest())
