"""Distinct people over a run of whole UTC days, without reading a row per person.

Per person and dimension, the UTC days on which they were active (their day
rows, grain 1, in ``report_people`` and ``report_reach``) make a chain
``d1 < d2 < ...``.  ``report_links`` counts the chain's links ``(day, prev) =
(d_k, d_k-1)`` per app, dimension and key, ``prev`` :data:`FIRST` for a
person's first day.  A person was active in the days ``[a, b)`` exactly when
one of their links has ``a <= day < b`` and ``prev < a`` (their first day in
the range), so the people of a run of days are ``SUM(n)`` over such links:
rows that grow with the days (at most days squared), never with the people.

Dimensions: ``any`` (anyone active), ``view`` and ``add`` (``report_people``'s
flags), ``known`` (anyone active whose profile has a visitor uid, as the
profile stands now), ``report_reach``'s keyed ``product``, ``page`` and
``custom``, and from ``report_visits`` (a person's days with a visit begun
from a source): ``source`` (key :func:`source_key`) and ``channel``.  Summed
days also count the visits begun on them in ``report_counts`` (dimension
``visit`` per source key, ``entry`` per entry path), kept the same way.

The links are kept equal to what the day rows say:

* :func:`link_days`, when days are summed (:mod:`.days`): the new days are
  later than every day row already there, so each new day row adds one link,
  its ``prev`` the person's latest day row before it;
* :class:`Links`, for one person's whole chain (and their visits' day counts),
  taken back before and put again after whatever rewrites it (a merge, an
  erasure, a day row or visit written late, a guest's profile getting its
  visitor uid), summed per batch and written in one statement, rows sorted (so
  two PostgreSQL batches never deadlock on them).
"""

from __future__ import annotations

from collections.abc import Iterable

from shoptrack.store.tx import Tx, dumps, with_ids

FIRST = -1  # ``prev`` of a person's first day
FLAGS = {"view": 1, "add": 2}  # report_people.flags of the dimensions (rollups.VIEWED, ADDED)
KEYED_DIMS = ("product", "page", "custom")  # report_reach
LINK_COLUMNS = (("app_id", "int"), ("dim", "text"), ("key", "text"), ("day", "int"),
                ("prev", "int"), ("n", "int"))
UPSERT_LINKS = (
    "INSERT INTO report_links (app_id, dim, key, day, prev, n) SELECT t.app_id, t.dim, t.key,"
    " t.day, t.prev, t.n FROM {rows} WHERE true"
    " ON CONFLICT (app_id, dim, key, day, prev) DO UPDATE SET n = report_links.n + excluded.n"
)
# The new day rows of [lo, hi), each with the person's latest day row before it.
_LINK_PEOPLE = (
    "INSERT INTO report_links (app_id, dim, key, day, prev, n) SELECT ?, ?, '', x.bucket,"
    " x.prev, COUNT(*) FROM (SELECT p.bucket, COALESCE((SELECT MAX(q.bucket)"
    " FROM report_people q WHERE q.visitor_id = p.visitor_id AND q.app_id = p.app_id"
    " AND q.grain = 1 AND q.bucket < p.bucket AND {q}), -1) AS prev FROM report_people p"
    " WHERE p.app_id = ? AND p.grain = 1 AND p.bucket >= ? AND p.bucket < ? AND {p}) AS x"
    " GROUP BY x.bucket, x.prev"
    " ON CONFLICT (app_id, dim, key, day, prev) DO UPDATE SET n = report_links.n + excluded.n"
)
# Over many days (a rebuild, a migration): every day row before ``hi`` in one sorted pass
# (a look-up per row took minutes a dimension on PostgreSQL at 10 M events).
_LINK_PEOPLE_ALL = (
    "INSERT INTO report_links (app_id, dim, key, day, prev, n) SELECT ?, ?, '', x.bucket,"
    " x.prev, COUNT(*) FROM (SELECT p.bucket, LAG(p.bucket, 1, -1) OVER (PARTITION BY"
    " p.visitor_id ORDER BY p.bucket) AS prev FROM report_people p WHERE p.app_id = ?"
    " AND p.grain = 1 AND p.bucket < ? AND {p}) AS x WHERE x.bucket >= ?"
    " GROUP BY x.bucket, x.prev"
    " ON CONFLICT (app_id, dim, key, day, prev) DO UPDATE SET n = report_links.n + excluded.n"
)
# Keyed: over a few days (a day summed), each new day row's person's rows looked up by
# the one-column visitor index (their latest earlier day of the key picked out here);
# over many (a rebuild, a migration), every day row before ``hi`` in one sorted pass.
_LINK_KEYED = (
    "INSERT INTO report_links (app_id, dim, key, day, prev, n) SELECT ?, ?, x.key, x.bucket,"
    " x.prev, COUNT(*) FROM (SELECT r.key, r.bucket, COALESCE((SELECT MAX(CASE WHEN"
    " q.app_id = r.app_id AND q.dim = r.dim AND q.key = r.key AND q.grain = 1"
    " AND q.bucket < r.bucket THEN q.bucket END) FROM report_reach q"
    " WHERE q.visitor_id = r.visitor_id), -1) AS prev FROM report_reach r WHERE r.app_id = ?"
    " AND r.dim = ? AND r.grain = 1 AND r.bucket >= ? AND r.bucket < ?) AS x"
    " GROUP BY x.key, x.bucket, x.prev"
    " ON CONFLICT (app_id, dim, key, day, prev) DO UPDATE SET n = report_links.n + excluded.n"
)
_LINK_KEYED_ALL = (
    "INSERT INTO report_links (app_id, dim, key, day, prev, n) SELECT ?, ?, x.key, x.bucket,"
    " x.prev, COUNT(*) FROM (SELECT r.key, r.bucket, LAG(r.bucket, 1, -1) OVER (PARTITION BY"
    " r.visitor_id, r.key ORDER BY r.bucket) AS prev FROM report_reach r WHERE r.app_id = ?"
    " AND r.dim = ? AND r.grain = 1 AND r.bucket < ?) AS x WHERE x.bucket >= ?"
    " GROUP BY x.key, x.bucket, x.prev"
    " ON CONFLICT (app_id, dim, key, day, prev) DO UPDATE SET n = report_links.n + excluded.n"
)
FEW_DAYS = 7  # up to this many days at once: _LINK_KEYED, else _LINK_KEYED_ALL
_KNOWN = ("EXISTS (SELECT 1 FROM visitors v WHERE v.id = p.visitor_id"
          " AND v.visitor_uid IS NOT NULL)")
# dimension -> (condition on the new day row p, condition on the earlier day row q)
_PEOPLE_CONDITIONS = {
    "any": ("true", "true"),
    "view": ("(p.flags & 1) <> 0", "(q.flags & 1) <> 0"),
    "add": ("(p.flags & 2) <> 0", "(q.flags & 2) <> 0"),
    "known": (_KNOWN, "true"),
}

LinkKey = tuple[int, str, str, int, int]  # (app, dim, key, day, prev)
CountKey = tuple[int, str, int, int, str]  # report_counts: (app, dim, grain, bucket, key)
DAY_MS = 86_400_000  # days.DAY_MS (days imports this module)
MAX_KEY = 500  # keys (paths, product ids, custom keys) are cut to this (an index entry)
SEP = "\x1f"  # between the parts of a source key
# A visit's source as one key: channel, referrer domain, utm_source, utm_campaign.
_SOURCE_KEY = ("substr({v}.channel || '" + SEP + "' || COALESCE({v}.referrer_domain, '') || '"
               + SEP + "' || COALESCE({v}.utm_source, '') || '" + SEP
               + "' || COALESCE({v}.utm_campaign, ''), 1, " + str(MAX_KEY) + ")")
_UPSERT_LINK = (" ON CONFLICT (app_id, dim, key, day, prev) DO UPDATE"
                " SET n = report_links.n + excluded.n")
# Days of visits from a source (or channel): each (person, key, day) once, linked to the
# person's latest earlier day with a visit of that key.
_LINK_VISITS = (
    "INSERT INTO report_links (app_id, dim, key, day, prev, n) SELECT ?, ?, x.key, x.day,"
    " x.prev, COUNT(*) FROM (SELECT y.key, y.day, COALESCE((SELECT MAX(w.started_at)"
    f" FROM report_visits w WHERE w.visitor_id = y.vid AND w.started_at < y.day * {DAY_MS}"
    f" AND {{kw}} = y.key) / {DAY_MS}, -1) AS prev FROM (SELECT DISTINCT v.visitor_id AS vid,"
    f" {{kv}} AS key, v.started_at / {DAY_MS} AS day FROM report_visits v WHERE v.app_id = ?"
    " AND v.started_at >= ? AND v.started_at < ?) AS y) AS x GROUP BY x.key, x.day, x.prev"
    f"{_UPSERT_LINK}"
)
_COUNT_VISITS = (
    "INSERT INTO report_counts (app_id, dim, grain, bucket, key, n, qty) SELECT ?, ?, 1,"
    f" v.started_at / {DAY_MS}, {{k}}, COUNT(*), 0 FROM report_visits v WHERE v.app_id = ?"
    f" AND v.started_at >= ? AND v.started_at < ? AND {{k}} IS NOT NULL"
    f" GROUP BY v.started_at / {DAY_MS}, {{k}}"
    " ON CONFLICT (app_id, dim, grain, bucket, key) DO UPDATE"
    " SET n = report_counts.n + excluded.n"
)
SOURCE_KEY = _SOURCE_KEY.format(v="v")  # on a visit aliased v
_VISIT_KEYS = {  # dimension -> the visit's key in it (SQL on alias v)
    "source": SOURCE_KEY,
    "channel": "v.channel",
}
VISIT_COUNTS = {"visit": SOURCE_KEY, "entry": f"substr(v.entry_path, 1, {MAX_KEY})"}


def source_key(channel: str, domain: str | None, utm_source: str | None,
               campaign: str | None) -> str:
    """The key of a visit's source in ``report_counts`` and ``report_links`` (as SQL
    makes it in :data:`_SOURCE_KEY`)."""
    return SEP.join((channel, domain or "", utm_source or "", campaign or ""))[:MAX_KEY]


def source_of_key(key: str) -> tuple[str, str | None, str | None, str | None]:
    channel, domain, utm_source, campaign = (key.split(SEP) + ["", "", ""])[:4]
    return channel, domain or None, utm_source or None, campaign or None


def link_days(tx: Tx, app_id: int, lo: int, hi: int) -> None:
    """Links of the app's day rows (and visits) of days ``[lo, hi)``, which must be later
    than every day linked so far (days are summed in order); and the visits' day counts."""
    if lo >= hi:
        return
    for dim, (p, q) in _PEOPLE_CONDITIONS.items():
        if hi - lo <= FEW_DAYS:
            tx.run(_LINK_PEOPLE.format(p=p, q=q), (app_id, dim, app_id, lo, hi))
        else:  # the rows kept are the chain's own (q's condition is p's, or true)
            tx.run(_LINK_PEOPLE_ALL.format(p=p), (app_id, dim, app_id, hi, lo))
    for dim in KEYED_DIMS:
        if hi - lo <= FEW_DAYS:
            tx.run(_LINK_KEYED, (app_id, dim, app_id, dim, lo, hi))
        else:
            tx.run(_LINK_KEYED_ALL, (app_id, dim, app_id, dim, hi, lo))
    span = (app_id, lo * DAY_MS, hi * DAY_MS)
    for dim, key in _VISIT_KEYS.items():
        tx.run(_LINK_VISITS.format(kv=key, kw=key.replace("v.", "w.")), (app_id, dim, *span))
    for dim, key in VISIT_COUNTS.items():
        tx.run(_COUNT_VISITS.format(k=key), (app_id, dim, *span))


def clear_from(tx: Tx, app_id: int, day: int) -> None:
    """Forget the links of days from ``day`` on (a rebuild sums them again)."""
    tx.run("DELETE FROM report_links WHERE app_id = ? AND day >= ?", (app_id, day))


def _chain(days: Iterable[int]) -> list[tuple[int, int]]:
    ordered = sorted(set(days))
    return list(zip(ordered, [FIRST, *ordered[:-1]], strict=True))


class Links:
    """One transaction's changes to whole chains, written by :meth:`flush`."""

    def __init__(self, tx: Tx) -> None:
        self.tx = tx
        self.deltas: dict[LinkKey, int] = {}
        self.counts: dict[CountKey, int] = {}  # the visits' day counts (Rollups writes them)

    def take(self, visitor_ids: Iterable[int], sign: int,
             dims: frozenset[str] | None = None) -> None:
        """Add (``sign`` 1) or take back (-1) the links of these people's chains as their
        day rows stand now (only ``dims`` when given)."""
        vids = sorted(set(visitor_ids))
        if not vids:
            return
        tx, deltas = self.tx, self.deltas
        chains: dict[tuple[int, int, str, str], list[int]] = {}
        known = {int(r[0]) for r in with_ids(
            tx, "SELECT id FROM visitors WHERE visitor_uid IS NOT NULL AND id{ids}", vids)}
        for vid, app, day, flags in with_ids(
                tx, "SELECT visitor_id, app_id, bucket, flags FROM report_people"
                " WHERE grain = 1 AND visitor_id{ids}", vids):
            vid, app, day, flags = int(vid), int(app), int(day), int(flags)
            chains.setdefault((vid, app, "any", ""), []).append(day)
            if vid in known:
                chains.setdefault((vid, app, "known", ""), []).append(day)
            for dim, flag in FLAGS.items():
                if flags & flag:
                    chains.setdefault((vid, app, dim, ""), []).append(day)
        if dims is None or not dims <= {"any", "view", "add", "known"}:
            for vid, app, dim, key, day in with_ids(
                    tx, "SELECT visitor_id, app_id, dim, key, bucket FROM report_reach"
                    " WHERE grain = 1 AND visitor_id{ids}", vids):
                chains.setdefault((int(vid), int(app), dim, key), []).append(int(day))
        if dims is None:
            self._take_visits(vids, sign, chains)
        for (_, app, dim, key), days in chains.items():
            if dims is not None and dim not in dims:
                continue
            for day, prev in _chain(days):
                link = (app, dim, key, day, prev)
                deltas[link] = deltas.get(link, 0) + sign

    def _take_visits(self, vids: list[int], sign: int,
                     chains: dict[tuple[int, int, str, str], list[int]]) -> None:
        """The people's visits begun on summed days: their day counts, and their days of
        each source and channel."""
        visits = with_ids(self.tx, "SELECT v.visitor_id, v.app_id, v.started_at, v.channel,"
                          " v.referrer_domain, v.utm_source, v.utm_campaign, v.entry_path"
                          " FROM report_visits v WHERE v.visitor_id{ids}", vids)
        apps = sorted({int(r[1]) for r in visits})
        summed = {int(a): int(u) for a, u in with_ids(
            self.tx, "SELECT app_id, upto FROM report_days WHERE app_id{ids}", apps)}
        counts = self.counts
        for vid, app, started, channel, domain, utm_source, campaign, entry in visits:
            day = int(started) // DAY_MS
            if day > summed.get(int(app), -1):
                continue
            key = source_key(channel, domain, utm_source, campaign)
            count = (int(app), "visit", 1, day, key)
            counts[count] = counts.get(count, 0) + sign
            if entry is not None:
                count = (int(app), "entry", 1, day, entry[:MAX_KEY])
                counts[count] = counts.get(count, 0) + sign
            chains.setdefault((int(vid), int(app), "source", key), []).append(day)
            chains.setdefault((int(vid), int(app), "channel", channel), []).append(day)

    def flush(self) -> None:
        rows = [[*key, n] for key, n in sorted(self.deltas.items()) if n]
        self.deltas.clear()
        if rows:
            self.tx.send(UPSERT_LINKS.format(rows=self.tx.rows(LINK_COLUMNS)), (dumps(rows),))

