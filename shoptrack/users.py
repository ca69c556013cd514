"""Dashboard users: e-mail and password, and a role (owner or viewer) on each of their apps.

Passwords are hashed with argon2id (``argon2-cffi``'s defaults: RFC 9106's low-memory
profile); only the hash is stored.  An owner changes an app's settings and keys; a
viewer reads.  The same user may belong to several apps.

An account made with a one-time password (:func:`first_owner`, ``shoptrack users create
--generate-password``) must choose its own password at the first login
(``must_change_password``); :func:`change_password` is how the dashboard does it, and
:func:`set_password` (``shoptrack users set-password``) clears the flag too.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from shoptrack.store.contract import App, Role, Store, User

MIN_PASSWORD = 8
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")
_hasher = PasswordHasher()
# Verifying against this when the e-mail is unknown costs the same time as a real check,
# so the answer's timing does not tell which e-mails have accounts.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


class UserError(ValueError):
    """A refused e-mail or password, with a message for the person who typed it."""


def normalise_email(email: str) -> str:
    cleaned = email.strip().lower()
    if not _EMAIL.match(cleaned):
        raise UserError(f"{email!r} is not an e-mail address")
    return cleaned


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"a password needs at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


def password_matches(password_hash: str | None, password: str) -> bool:
    """Constant-cost check; ``None`` (no such user) is checked against a dummy and fails."""
    try:
        _hasher.verify(password_hash or _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return False
    return password_hash is not None


def new_password() -> str:
    """A one-time password for a first login: 16 random characters."""
    return secrets.token_urlsafe(12)


def create_user(store: Store, email: str, password: str, apps: Sequence[App] = (),
                role: Role = "viewer", *, one_time: bool = False) -> User:
    """Create a user with ``role`` on each of ``apps``; UserError when the e-mail is taken.
    ``one_time``: the password was generated, so the user must change it at first login."""
    password_hash = hash_password(password)
    try:
        user = store.add_user(normalise_email(email), password_hash, one_time)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    for app in apps:
        store.grant(user.id, app.id, role)
    return user


def set_password(store: Store, user: User, password: str) -> None:
    """Replace the password (the user chose it: no change is asked for any more); every
    session of the user ends."""
    store.set_password_hash(user.id, hash_password(password), False)


class PasswordChange(UserError):
    """A refused password change; ``field`` is the form field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def change_password(store: Store, user: User, current: str, new: str, confirm: str) -> None:
    """The dashboard's change: the current password, then the new one twice.  Raises
    :class:`PasswordChange` naming ``current_password``, ``new_password`` or
    ``confirm_password``; on success every session of the user ends (log in again, or let
    the caller start a fresh one)."""
    if not password_matches(user.password_hash, current):
        raise PasswordChange("current_password", "This is not your current password.")
    if len(new) < MIN_PASSWORD:
        raise PasswordChange("new_password",
                             f"A password needs at least {MIN_PASSWORD} characters.")
    if new == current:
        raise PasswordChange("new_password", "Choose a password other than the current one.")
    if confirm != new:
        raise PasswordChange("confirm_password", "The two new passwords differ.")
    set_password(store, user, new)


def first_owner(store: Store, app: App, email: str = "owner@localhost") -> tuple[User, str]:
    """The first start's owner of ``app``, with a one-time password to show on the terminal
    (to be changed at the first login)."""
    password = new_password()
    return create_user(store, email, password, [app], "owner", one_time=True), password
