"""The dashboard's lists of visitors, shared by both SQL backends: the most recently seen,
and search by uid, e-mail, phone or name.

Mixed into :class:`shoptrack.store.sql.SqlStore`.  Neither list reads every visitor of
an app, so both stay as fast at a million visitors as at a hundred:

* **Recent**: the visitors of the app's newest events (``events_app_id``, newest
  first), then sorted by ``last_seen``.  Not an index on ``visitors.last_seen``: every
  batch sets it on each visitor it touches, and on PostgreSQL such an index turns those
  updates from HOT into ones that write every index of ``visitors`` again (measured:
  +10 % writer CPU and +14 % WAL per event, HOT updates 78 % -> 6 %; migration 0014).
  An event's id follows its arrival, so the visitors of the newest events are the most
  recently seen; after ``shoptrack import`` of older events the list shows their
  visitors until new events arrive.
* **Search**, first by index: the uid (a visitor uid, ``visitors_app_uid``, or a guest
  uid, the guests' key), the whole e-mail (any case, ``visitors_app_email``) and the
  whole phone (spaces, dashes, dots and brackets aside, ``visitors_app_phone``); then,
  while fewer than ``limit`` were found, part of a name, e-mail or phone among the
  :data:`SEARCH_SCAN` visitors first seen most recently (``visitors_app_first_seen``).
  The page says so: an older visitor is found by a whole uid, e-mail or phone.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

import orjson

from shoptrack.clock import iso
from shoptrack.store.contract import Store
from shoptrack.store.tx import Tx, dumps

SEARCH_SCAN = 20_000  # visitors a partial search reads at most
RECENT_PAGE = 500  # events read at a time for the recent list
RECENT_EVENTS = 20_000  # and at most, whoever sent them
PHONE_MARKS = " -()."  # what a phone number is written with and searched without
NAME_FIELDS = ("name", "first_name", "last_name", "email", "phone")

SUMMARY_SELECT = (
    "SELECT v.id, COALESCE(v.visitor_uid, (SELECT MIN(g.guest_uid) FROM guests g"
    " WHERE g.visitor_id = v.id)), v.visitor_uid, v.info, v.first_seen, v.last_seen,"
    " v.event_count FROM visitors v")


def phone_digits(sql: str) -> str:
    """``sql`` (a text expression) without the marks of :data:`PHONE_MARKS`, in SQL; the
    expression of the ``visitors_app_phone`` index (migration 0014) over the phone."""
    for mark in PHONE_MARKS:
        sql = f"replace({sql}, '{mark}', '')"
    return sql


def _summary(row: Sequence[Any]) -> dict[str, Any]:
    return {"id": row[0], "uid": row[1], "visitor_uid": row[2],
            "info": orjson.loads(row[3]), "first_seen": iso(row[4]),
            "last_seen": iso(row[5]), "event_count": row[6]}


def _like_escape(text: str) -> str:
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_")


def _bare_phone(text: str) -> str:
    return "".join(c for c in text if c not in PHONE_MARKS)


def _phone_like(needle: str) -> bool:
    return any(c.isdigit() for c in needle) and all(
        c.isdigit() or c in PHONE_MARKS or c == "+" for c in needle)


def _matches(info: Any, needle: str) -> bool:
    """Whether part of the name, e-mail or phone in ``info`` is ``needle`` (casefolded);
    a phone-like needle also when both are written without marks."""
    if not isinstance(info, dict):
        return False
    bare = _bare_phone(needle) if _phone_like(needle) else ""
    full = " ".join(str(info[k]) for k in ("first_name", "last_name") if info.get(k))
    for value in (*(info.get(k) for k in NAME_FIELDS), full):
        if value is None or isinstance(value, (dict, list)):
            continue
        text = str(value).casefold()
        if needle in text or (bare and bare in _bare_phone(text)):
            return True
    return False


Query = tuple[str, list[Any]]


def recent_query(app_id: int, before: int | None) -> Query:
    """The next :data:`RECENT_PAGE` of the app's events, newest first: ``(id, visitor_id)``."""
    if before is None:
        return ("SELECT id, visitor_id FROM events WHERE app_id = ? ORDER BY id DESC LIMIT ?",
                [app_id, RECENT_PAGE])
    return ("SELECT id, visitor_id FROM events WHERE app_id = ? AND id < ?"
            " ORDER BY id DESC LIMIT ?", [app_id, before, RECENT_PAGE])


def exact_query(tx: Tx, app_id: int, text: str) -> Query:
    """Visitors whose uid, whole e-mail (any case) or whole phone (marks aside) ``text``
    is, each found by an index: ``(id, last_seen)``, most recently seen first."""
    email = tx.json_text.format(doc="info", key="email")
    phone = tx.json_text.format(doc="info", key="phone")
    # One index look-up a branch, each returning the visitor's row itself (a join on the
    # ids they find would let PostgreSQL's planner, guessing 200 rows, scan visitors).
    return ("SELECT id, last_seen FROM visitors WHERE app_id = ? AND visitor_uid = ?"
            " UNION SELECT v.id, v.last_seen FROM guests g JOIN visitors v ON v.id = g.visitor_id"
            " WHERE g.app_id = ? AND g.guest_uid = ?"
            f" UNION SELECT id, last_seen FROM visitors WHERE app_id = ? AND {email} IS NOT NULL"
            f" AND lower({email}) = lower(?)"
            f" UNION SELECT id, last_seen FROM visitors WHERE app_id = ? AND {phone} IS NOT NULL"
            f" AND {phone_digits(phone)} = ?"
            " ORDER BY 2 DESC, 1 DESC",
            [app_id, text, app_id, text, app_id, text, app_id, _bare_phone(text) or text])


def partial_query(tx: Tx, app_id: int, needle: str) -> Query:
    """``(id, info)`` of the :data:`SEARCH_SCAN` visitors first seen most recently, most
    recently seen first, that may hold ``needle`` (casefolded): the database drops those
    that cannot (their info lacks the needle's longest word; a phone-like needle's info
    lacks it as typed and their phone without marks its digits), where it can tell
    (:func:`_prefilter`)."""
    # The LIMIT inside: the scan stops after SEARCH_SCAN visitors, matched or not.
    sql = ("SELECT id, info FROM (SELECT id, info, last_seen FROM visitors"
           " WHERE app_id = ? ORDER BY first_seen DESC LIMIT ?) AS newest")
    params: list[Any] = [app_id, SEARCH_SCAN]
    if _prefilter(needle) and _phone_like(needle):
        # As typed anywhere, or its digits in the phone written without marks.
        phone = phone_digits(tx.json_text.format(doc="info", key="phone"))
        sql += f" WHERE LOWER(info) LIKE ? ESCAPE '!' OR {phone} LIKE ? ESCAPE '!'"
        params += ["%" + _like_escape(needle) + "%",
                   "%" + _like_escape(_bare_phone(needle)) + "%"]
    elif _prefilter(needle):
        # The stored JSON holds each value as typed (a full name is two values).
        sql += " WHERE LOWER(info) LIKE ? ESCAPE '!'"
        params.append("%" + _like_escape(max(needle.split(), key=len)) + "%")
    return sql + " ORDER BY last_seen DESC, id DESC", params


class VisitorReads(Store):
    """:meth:`recent_visitors` and :meth:`search_visitors` over ``_read`` (the backend's)."""

    def _read(self) -> AbstractContextManager[Tx]:
        raise NotImplementedError

    def recent_visitors(self, app_id: int, limit: int) -> list[dict[str, Any]]:
        seen: dict[int, None] = {}  # in order of their newest event
        before: int | None = None
        read = 0
        with self._read() as tx:
            while len(seen) < limit and read < RECENT_EVENTS:
                page = tx.all(*recent_query(app_id, before))
                seen.update((int(v), None) for _, v in page if v is not None)
                read += len(page)
                if len(page) < RECENT_PAGE:
                    break
                before = int(page[-1][0])
            if not seen:
                return []
            # Whoever is not here sent nothing since the oldest event read, so was seen
            # before every visitor here: the first ``limit`` of these are the latest seen.
            rows = tx.all(SUMMARY_SELECT + " WHERE v.id" + tx.ids
                          + " ORDER BY v.last_seen DESC, v.id DESC LIMIT ?",
                          (dumps(list(seen)), limit))
        return [_summary(r) for r in rows]

    def search_visitors(self, app_id: int, text: str, limit: int) -> list[dict[str, Any]]:
        text = text.strip()
        if not text or "\x00" in text or limit <= 0:
            return []
        needle = text.casefold()
        with self._read() as tx:
            found = [int(r[0]) for r in tx.all(*exact_query(tx, app_id, text))]
            if len(found) < limit:
                exact = set(found)
                found += [int(r[0]) for r in tx.all(*partial_query(tx, app_id, needle))
                          if int(r[0]) not in exact and _matches(orjson.loads(r[1]), needle)]
            found = found[:limit]
            rows = {int(r[0]): r for r in tx.all(SUMMARY_SELECT + " WHERE v.id" + tx.ids,
                                                 (dumps(found),))} if found else {}
        return [_summary(rows[i]) for i in found if i in rows]


def _prefilter(needle: str) -> bool:
    """Whether the database may drop the visitors whose info JSON does not hold ``needle``
    (lower-cased) as it is: not for a letter beyond ASCII (SQLite's LOWER folds only
    ASCII), nor a quote or backslash (escaped in JSON)."""
    return needle.isascii() and not set(needle) & set('"\\')
