"""The SQL of dashboard accounts, shared by both backends: users, roles, sessions, throttling.

Mixed into :class:`shoptrack.store.sql.SqlStore` (kept apart so that file stays about
events and their state).  E-mails are stored lower-cased; sessions only by the SHA-256
of their token.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, cast

import orjson

from shoptrack.clock import now_ms
from shoptrack.store.contract import App, AppSettings, Role, Store, User, UserSession
from shoptrack.store.tx import Tx, dumps

_USER_COLUMNS = "u.id, u.email, u.password_hash, u.created_at, u.must_change_password"


def _user(row: Sequence[Any]) -> User:
    return User(id=row[0], email=row[1], password_hash=row[2], created_at=row[3],
                must_change_password=bool(row[4]))


class AccountsSql(Store):
    """Users and sessions over ``_read``/``_write`` (provided by the backend)."""

    def _read(self) -> AbstractContextManager[Tx]:
        raise NotImplementedError

    def _write(self) -> AbstractContextManager[Tx]:
        raise NotImplementedError

    def add_user(self, email: str, password_hash: str,
                 must_change_password: bool = False) -> User:
        email = email.strip().lower()
        with self._write() as tx:
            if tx.one("SELECT 1 FROM users WHERE email = ?", (email,)):
                raise ValueError(f"a user with the e-mail {email!r} exists already")
            row = tx.one("INSERT INTO users (email, password_hash, created_at,"
                         " must_change_password) VALUES (?, ?, ?, ?)"
                         " RETURNING id, email, password_hash, created_at, must_change_password",
                         (email, password_hash, now_ms(), must_change_password))
        assert row is not None
        return _user(row)

    def user_by_email(self, email: str) -> User | None:
        with self._read() as tx:
            row = tx.one(f"SELECT {_USER_COLUMNS} FROM users u WHERE u.email = ?",
                         (email.strip().lower(),))
        return _user(row) if row else None

    def list_users(self) -> list[User]:
        with self._read() as tx:
            return [_user(r) for r in tx.all(f"SELECT {_USER_COLUMNS} FROM users u ORDER BY u.id")]

    def count_users(self) -> int:
        with self._read() as tx:
            row = tx.one("SELECT COUNT(*) FROM users")
        return int(row[0]) if row else 0

    def set_password_hash(self, user_id: int, password_hash: str,
                          must_change_password: bool = False) -> None:
        with self._write() as tx:
            tx.run("UPDATE users SET password_hash = ?, must_change_password = ? WHERE id = ?",
                   (password_hash, must_change_password, user_id))
            tx.run("DELETE FROM user_sessions WHERE user_id = ?", (user_id,))

    def remove_user(self, user_id: int) -> bool:
        # SQLite does not enforce the foreign keys' cascades: delete the dependants here.
        with self._write() as tx:
            tx.run("DELETE FROM user_sessions WHERE user_id = ?", (user_id,))
            tx.run("DELETE FROM user_apps WHERE user_id = ?", (user_id,))
            return tx.run("DELETE FROM users WHERE id = ?", (user_id,)) > 0

    def grant(self, user_id: int, app_id: int, role: Role) -> None:
        with self._write() as tx:
            tx.run("INSERT INTO user_apps (user_id, app_id, role) VALUES (?, ?, ?)"
                   " ON CONFLICT (user_id, app_id) DO UPDATE SET role = excluded.role",
                   (user_id, app_id, role))

    def memberships(self, user_id: int) -> list[tuple[App, Role]]:
        with self._read() as tx:
            rows = tx.all("SELECT a.id, a.app_key, a.name, a.domains, a.settings, a.created_at,"
                          " m.role FROM user_apps m JOIN apps a ON a.id = m.app_id"
                          " WHERE m.user_id = ? ORDER BY a.id", (user_id,))
        return [(App(id=r[0], app_key=r[1], name=r[2], domains=tuple(orjson.loads(r[3])),
                     settings=AppSettings.model_validate_json(r[4]), created_at=r[5]),
                 cast(Role, r[6])) for r in rows]

    def add_session(self, token_hash: str, user_id: int, csrf_token: str,
                    expires_at: int) -> None:
        now = now_ms()
        with self._write() as tx:
            tx.run("DELETE FROM user_sessions WHERE expires_at <= ?", (now,))
            tx.run("INSERT INTO user_sessions (token_hash, user_id, csrf_token, expires_at,"
                   " created_at) VALUES (?, ?, ?, ?, ?)",
                   (token_hash, user_id, csrf_token, expires_at, now))

    def session(self, token_hash: str, now: int) -> UserSession | None:
        with self._read() as tx:
            row = tx.one(f"SELECT {_USER_COLUMNS}, s.csrf_token, s.expires_at"
                         " FROM user_sessions s JOIN users u ON u.id = s.user_id"
                         " WHERE s.token_hash = ? AND s.expires_at > ?", (token_hash, now))
        if row is None:
            return None
        return UserSession(user=_user(row), csrf_token=row[5], expires_at=row[6])

    def remove_session(self, token_hash: str) -> None:
        with self._write() as tx:
            tx.run("DELETE FROM user_sessions WHERE token_hash = ?", (token_hash,))

    def note_login_failure(self, keys: Sequence[str], at: int, forget_before: int) -> None:
        with self._write() as tx:
            tx.run("DELETE FROM login_failures WHERE at < ?", (forget_before,))
            for key in keys:
                tx.run("INSERT INTO login_failures (key, at) VALUES (?, ?)", (key, at))

    def login_failures(self, keys: Sequence[str], since: int) -> dict[str, int]:
        if not keys:
            return {}
        with self._read() as tx:
            rows = tx.all("SELECT key, COUNT(*) FROM login_failures"
                          f" WHERE key IN (SELECT value FROM {tx.values}) AND at >= ?"
                          " GROUP BY key", (dumps(list(keys)), since))
        return {str(r[0]): int(r[1]) for r in rows}

    def clear_login_failures(self, keys: Sequence[str]) -> None:
        with self._write() as tx:
            for key in keys:
                tx.run("DELETE FROM login_failures WHERE key = ?", (key,))
