"""The batch rules, differentially: one batch, batches of one, and a model of the docs.

Random event streams over a small alphabet (guest uids ``g1``..``g4``, visitor
uids ``v1``..``v3``, three products, four order ids, three message ids, two
apps), so that links, merges, shared devices, repeated orders and duplicate
message ids happen in most streams, are applied three ways:

(a) the whole stream as one batch (``Store.apply_batch``), one transaction;
(b) the same stream as batches of one event each, on SQLite read back after every
    event too (the person each of the event's uids reaches);
(c) :class:`Shop`, a reference model written here, plainly, from
    ``docs/state-rules.md`` (it calls none of shoptrack's rules).

Each event is built as the web layer builds it (``protocol.validate_event`` on
the wire object, then ``app_id`` and an increasing ``received_at`` stamped on),
and the results are read back through the store's read methods only
(``visitor``, ``visitor_events``, ``order``, ``count_events``): for every uid
of the alphabet, the person it reaches (visitor uid, guest uids, info, event
count, the times of its events, first and last seen, cart lines, total and
last change, orders); every order (state, revenue, owner, creation time); the
number of events stored; and each event's outcome (ok, duplicate, and the notes
of a repeated order and of an unknown one).  All three must agree, on SQLite
and on PostgreSQL; a fresh database per example and per way
(``fresh_database``).

Where the docs are silent, the streams stay out of it: update_cart lines always
carry a price, and product names are not sent.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from shoptrack.apps import register_app
from shoptrack.protocol import Event, validate_event
from shoptrack.store import Outcome, Store, open_store
from tests.conftest import examples

GUESTS = ["g1", "g2", "g3", "g4"]
VISITORS = ["v1", "v2", "v3"]
UIDS = GUESTS + VISITORS
APPS = ["A", "B"]
PRODUCTS = ["p1", "p2", "p3"]
ORDER_IDS = ["o1", "o2", "o3", "o4"]  # o4 is never purchased: only ever an unknown order
MESSAGE_IDS = ["m1", "m2", "m3"]
INFO_KEYS = ["email", "phone"]
INFO_VALUES: list[Any] = ["a@example.com", "b@example.com", "", 7, True, None]
QUANTITIES: list[Any] = [1, 2, 3, "1", "0.25", 0.5, "1.5"]
PRICES: list[Any] = ["1.00", "9.99", "0.10", 25, 0.5]
REVENUES: list[Any] = ["10.00", "99.99", 5, "0", 12.5]
STATES = ["new", "paid", "shipped", "cancelled", "canceled", "Canceled", "CANCELLED"]
BASE_MS = 1_700_000_000_000
STEP_MS = 1000


# -- the streams ------------------------------------------------------------------------
def _maybe(values: list[Any], absent: int = 1) -> st.SearchStrategy[Any]:
    """One of ``values``, or (``absent`` times in ``len(values) + absent``) nothing."""
    return st.sampled_from([None] * absent + values)


_products = st.sampled_from(PRODUCTS)
_quantities = st.sampled_from(QUANTITIES)
_prices = st.sampled_from(PRICES)
_revenues = st.sampled_from(REVENUES)
_line = st.fixed_dictionaries({"product_id": _products, "qnt": _quantities | st.just("0"),
                               "price": _prices})
PROPERTIES: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "link": st.just({}),
    "login": st.just({}),
    "update_info": st.just({}),
    "view_product": st.fixed_dictionaries({"product_id": _products}),
    "add_to_cart": st.fixed_dictionaries(
        {"product_id": _products, "qnt": _quantities, "price": _prices}),
    "remove_from_cart": st.fixed_dictionaries({"product_id": _products, "qnt": _quantities}),
    "update_cart": st.fixed_dictionaries({"items": st.lists(_line, max_size=3)}),
    "purchase": st.builds(
        lambda order_id, revenue, state: {"order_id": order_id, "revenue": revenue,
                                          **({} if state is None else {"state": state})},
        st.sampled_from(ORDER_IDS[:3]), _revenues, _maybe(STATES, absent=3)),
    "order_update": st.builds(
        lambda order_id, state, revenue: {"order_id": order_id,
                                          **({} if state is None else {"state": state}),
                                          **({} if revenue is None else {"revenue": revenue})},
        st.sampled_from(ORDER_IDS), _maybe(STATES), _maybe(REVENUES, absent=2)),
}
# Cart and identity events more often than the rest.
TYPES = st.sampled_from(["link", "link", "add_to_cart", "add_to_cart", "add_to_cart",
                         "remove_from_cart", "update_cart", "purchase", "order_update",
                         "update_info", "login", "view_product"])
# Which uids an event carries: a guest alone most often (each new guest is an anonymous
# profile that a later event with both uids links or merges), both next.
SHAPES = {"login": ["visitor", "both", "both"],
          "order_update": ["none", "none", "guest", "visitor", "both"]}
OTHER_SHAPES = ["guest", "guest", "visitor", "both", "both"]
_info_entry = st.tuples(st.sampled_from(INFO_KEYS), st.sampled_from(INFO_VALUES))
# How many info keys an event other than update_info carries: often enough that the two
# sides of a merge disagree on a key (which side wins shows) in about one stream in ten.
INFO_ON_OTHERS = [0, 0, 1, 2]


@st.composite
def wire_events(draw: st.DrawFn) -> dict[str, Any]:
    """One event as a client sends it (the ``data`` object), plus the app it goes to."""
    etype = draw(TYPES)
    shape = draw(st.sampled_from(SHAPES.get(etype, OTHER_SHAPES)))
    guest = draw(st.sampled_from(GUESTS)) if shape in ("guest", "both") else None
    visitor = draw(st.sampled_from(VISITORS)) if shape in ("visitor", "both") else None
    # visitor_info: a key or two on every update_info, and on half the other events.
    keys = draw(st.sampled_from([1, 2] if etype == "update_info" else INFO_ON_OTHERS))
    entries = [draw(_info_entry) for _ in range(keys)]
    obj: dict[str, Any] = {"app": draw(st.sampled_from(["A"] * 5 + ["B"])), "type": etype,
                           "guest_uid": guest, "visitor_uid": visitor,
                           "properties": draw(PROPERTIES[etype]), "visitor_info": dict(entries)}
    message_id = draw(_maybe(MESSAGE_IDS, absent=6))
    if message_id is not None:
        obj["message_id"] = message_id
    return obj


# Long enough that many streams merge a guest into a visitor (2 in 5 or so at these
# sizes, 1 in 5 at ten events: a guest whose visitor is new is linked, not merged).
STREAMS = st.lists(wire_events(), min_size=10, max_size=30)


# -- the reference model: docs/state-rules.md, plainly ------------------------------------
def dec(value: Any) -> Decimal:
    """A wire number (JSON number or string) as the exact decimal it spells."""
    return Decimal(str(value).strip())


def stored_state(state: str) -> str:
    """"cancelled and canceled (any case) are stored as cancelled"; others as sent."""
    return "cancelled" if state.strip().lower() in ("cancelled", "canceled") else state


@dataclass
class Person:
    visitor_uid: str | None
    first_seen: int
    last_seen: int
    guests: set[str] = field(default_factory=set)
    info: dict[str, Any] = field(default_factory=dict)
    events: list[int] = field(default_factory=list)  # received_at of its events
    cart: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)  # qnt, price
    cart_at: int | None = None  # when the cart last changed


@dataclass
class Order:
    owner: int
    state: str
    revenue: Decimal
    created_at: int


class Shop:
    """One app's visitors, carts and orders, changed by events as the docs say."""

    def __init__(self) -> None:
        self.people: dict[int, Person] = {}
        self.by_visitor_uid: dict[str, int] = {}
        self.by_guest_uid: dict[str, int] = {}
        self.orders: dict[str, Order] = {}
        self.message_ids: set[str] = set()
        self.stored = 0
        self._ids = itertools.count(1)

    def new_person(self, visitor_uid: str | None, at: int) -> int:
        pid = next(self._ids)
        self.people[pid] = Person(visitor_uid, first_seen=at, last_seen=at)
        if visitor_uid is not None:
            self.by_visitor_uid[visitor_uid] = pid
        return pid

    def point_guest(self, guest_uid: str, pid: int) -> None:
        old = self.by_guest_uid.get(guest_uid)
        if old is not None:
            self.people[old].guests.discard(guest_uid)
        self.by_guest_uid[guest_uid] = pid
        self.people[pid].guests.add(guest_uid)

    # "Visitors and identity": the table, row by row.
    def identify(self, guest_uid: str | None, visitor_uid: str | None, at: int) -> int:
        visitor = None if visitor_uid is None else self.by_visitor_uid.get(visitor_uid)
        if guest_uid is None:  # a visitor uid only
            assert visitor_uid is not None
            return visitor if visitor is not None else self.new_person(visitor_uid, at)
        guest = self.by_guest_uid.get(guest_uid)
        if visitor_uid is None:  # a guest uid only
            if guest is None:
                guest = self.new_person(None, at)
                self.point_guest(guest_uid, guest)
            return guest
        if guest is None:  # both, guest new: one more device of the visitor
            if visitor is None:
                visitor = self.new_person(visitor_uid, at)
            self.point_guest(guest_uid, visitor)
            return visitor
        if guest == visitor:
            return visitor
        if self.people[guest].visitor_uid is None:  # the guest is anonymous
            if visitor is None:  # the guest's profile becomes the visitor's
                self.people[guest].visitor_uid = visitor_uid
                self.by_visitor_uid[visitor_uid] = guest
                return guest
            self.merge(guest, visitor)
            return visitor
        # A shared device: the guest now points at the visitor who logged in last.
        if visitor is None:
            visitor = self.new_person(visitor_uid, at)
        self.point_guest(guest_uid, visitor)
        return visitor

    def merge(self, source_id: int, target_id: int) -> None:
        """An anonymous profile into a visitor's: events, orders and guest uids move,
        info keys the visitor lacks are taken, the cart changed most recently wins, first
        seen is the earlier, last seen the later, event counts add up."""
        source, target = self.people.pop(source_id), self.people[target_id]
        target.events += source.events
        for order in self.orders.values():
            if order.owner == source_id:
                order.owner = target_id
        for guest_uid in source.guests:
            self.by_guest_uid[guest_uid] = target_id
        target.guests |= source.guests
        target.info = {**source.info, **target.info}
        if source.cart_at is not None and (target.cart_at is None
                                           or source.cart_at > target.cart_at):
            target.cart, target.cart_at = source.cart, source.cart_at
        target.first_seen = min(target.first_seen, source.first_seen)
        target.last_seen = max(target.last_seen, source.last_seen)

    def apply(self, obj: dict[str, Any], at: int) -> tuple[str, str | None]:
        """One event; returns its outcome (status, and the kind of note)."""
        message_id = obj.get("message_id")
        if message_id is not None:
            if message_id in self.message_ids:
                return "duplicate", None  # not stored again, changes nothing
            self.message_ids.add(message_id)
        self.stored += 1
        etype, props = obj["type"], obj["properties"]
        guest_uid, visitor_uid = obj["guest_uid"], obj["visitor_uid"]
        pid: int | None
        if guest_uid is None and visitor_uid is None:
            # "An update without uids belongs to the order's visitor."
            order = self.orders.get(props["order_id"])
            pid = None if order is None else order.owner
        else:
            pid = self.identify(guest_uid, visitor_uid, at)
        note = None
        if pid is not None:
            person = self.people[pid]
            person.events.append(at)
            person.last_seen = max(person.last_seen, at)
            for key, value in obj["visitor_info"].items():
                if value == "":
                    person.info.pop(key, None)  # an empty string erases the key
                else:
                    person.info[key] = value  # last write wins
            note = self.change(person, pid, etype, props, at)
        elif etype == "order_update":
            note = self.change(None, None, etype, props, at)
        return "ok", note

    def change(self, person: Person | None, pid: int | None, etype: str,
               props: dict[str, Any], at: int) -> str | None:
        """"Carts" and "Orders"."""
        if etype == "add_to_cart":
            assert person is not None
            qnt, price = dec(props["qnt"]), dec(props["price"])
            line = person.cart.get(props["product_id"])
            person.cart[props["product_id"]] = (qnt + (line[0] if line else 0), price)
            person.cart_at = at
        elif etype == "remove_from_cart":
            assert person is not None
            line = person.cart.get(props["product_id"])
            if line is not None:  # removing an absent product does nothing
                left = line[0] - dec(props["qnt"])
                if left > 0:
                    person.cart[props["product_id"]] = (left, line[1])
                else:
                    del person.cart[props["product_id"]]  # the line goes at zero or below
                person.cart_at = at
        elif etype == "update_cart":
            assert person is not None
            cart: dict[str, tuple[Decimal, Decimal]] = {}
            for item in props["items"]:
                qnt = dec(item["qnt"])
                if qnt <= 0:
                    continue  # a line at zero is no line
                before = cart.get(item["product_id"])
                # Lines of the same product add up.
                cart[item["product_id"]] = (qnt + (before[0] if before else 0),
                                            dec(item["price"]))
            person.cart, person.cart_at = cart, at
        elif etype == "purchase":
            assert person is not None and pid is not None
            person.cart, person.cart_at = {}, at
            if props["order_id"] in self.orders:
                return "repeat"  # the same order: not doubled, and the answer says so
            self.orders[props["order_id"]] = Order(
                pid, stored_state(props.get("state") or "new"), dec(props["revenue"]), at)
        elif etype == "order_update":
            order = self.orders.get(props["order_id"])
            if order is None:
                return "unknown"  # ignored, and the answer says so
            if "state" in props:
                order.state = stored_state(props["state"])
            if "revenue" in props:
                order.revenue = dec(props["revenue"])
        return None

    def person_view(self, uid: str) -> dict[str, Any] | None:
        """What :func:`read_person` should show for ``uid``."""
        pid = self.by_visitor_uid.get(uid, self.by_guest_uid.get(uid))
        if pid is None:
            return None
        person = self.people[pid]
        return {
            "visitor_uid": person.visitor_uid, "guest_uids": sorted(person.guests),
            "info": dict(person.info), "event_count": len(person.events),
            "events": sorted(person.events), "first_seen": person.first_seen,
            "last_seen": person.last_seen,
            "cart": sorted((p, q, price) for p, (q, price) in person.cart.items()),
            "cart_total": sum((q * price for q, price in person.cart.values()), Decimal(0)),
            "cart_updated_at": person.cart_at,
            "orders": sorted(o for o, order in self.orders.items() if order.owner == pid),
        }

    def view(self) -> dict[str, Any]:
        """What :func:`read` should show."""
        orders = {oid: None if oid not in self.orders else {
            "state": self.orders[oid].state, "revenue": self.orders[oid].revenue,
            "visitor_uid": self.people[self.orders[oid].owner].visitor_uid,
            "created_at": self.orders[oid].created_at} for oid in ORDER_IDS}
        return {"people": {uid: self.person_view(uid) for uid in UIDS}, "orders": orders,
                "stored": self.stored}


def uids_of(obj: dict[str, Any]) -> list[str]:
    return [uid for uid in (obj["guest_uid"], obj["visitor_uid"]) if uid is not None]


def reference(stream: list[dict[str, Any]], *, trace: bool = False) -> dict[str, Any]:
    """What the docs say of ``stream``: outcomes and final state (and, with ``trace``,
    after each event, the person each of its uids reaches)."""
    shops = {name: Shop() for name in APPS}
    outcomes, steps = [], []
    for i, obj in enumerate(stream):
        shop = shops[obj["app"]]
        outcomes.append(shop.apply(obj, received_at(i)))
        if trace:
            steps.append([shop.person_view(uid) for uid in uids_of(obj)])
    result = {"outcomes": outcomes, **{name: shop.view() for name, shop in shops.items()}}
    return {**result, "trace": steps} if trace else result


# -- the store, fed and read as the web layer and the read API do -------------------------
def received_at(index: int) -> int:
    return BASE_MS + index * STEP_MS


def to_event(obj: dict[str, Any], app_ids: dict[str, int], index: int) -> Event:
    """As ``web/ingest.py`` makes it: validate the wire object, stamp app and receive time."""
    wire = {k: v for k, v in copy.deepcopy(obj).items() if k != "app"}
    event = validate_event(wire)
    event.app_id = app_ids[obj["app"]]
    event.received_at = received_at(index)
    return event


def ms(text: str | None) -> int | None:
    """The read API's ISO 8601 UTC time (``2023-11-14T22:13:20.000Z``) as Unix ms."""
    if text is None:
        return None
    return round(datetime.fromisoformat(text).timestamp() * 1000)


def note_kind(outcome: Outcome) -> tuple[str, str | None]:
    note = outcome.note
    if note is not None and "already recorded" in note:
        note = "repeat"
    elif note is not None and note.startswith("unknown order"):
        note = "unknown"
    return outcome.status, note


def read_person(store: Store, app_id: int, uid: str) -> dict[str, Any] | None:
    """The person ``uid`` reaches, as the read methods show it."""
    visitor = store.visitor(app_id, uid)
    if visitor is None:
        return None
    events = store.visitor_events(app_id, uid, 1000, None) or []
    cart = visitor["cart"]
    return {
        "visitor_uid": visitor["visitor_uid"], "guest_uids": sorted(visitor["guest_uids"]),
        "info": visitor["info"], "event_count": visitor["event_count"],
        "events": sorted(ms(e["received_at"]) or 0 for e in events),
        "first_seen": ms(visitor["first_seen"]), "last_seen": ms(visitor["last_seen"]),
        "cart": sorted((i["product_id"], dec(i["qnt"]), dec(i["price"])) for i in cart["items"]),
        "cart_total": dec(cart["total"]), "cart_updated_at": ms(cart["updated_at"]),
        "orders": sorted(o["order_id"] for o in visitor["orders"]),
    }


def read(store: Store, app_id: int) -> dict[str, Any]:
    """What the read methods show, for every uid and order id of the alphabet."""
    orders: dict[str, Any] = {}
    for order_id in ORDER_IDS:
        order = store.order(app_id, order_id)
        orders[order_id] = None if order is None else {
            "state": order["state"], "revenue": dec(order["revenue"]),
            "visitor_uid": order["visitor_uid"], "created_at": ms(order["created_at"])}
    return {"people": {uid: read_person(store, app_id, uid) for uid in UIDS},
            "orders": orders, "stored": store.count_events(app_id)}


def run(url: str, stream: list[dict[str, Any]], *, one_batch: bool,
        trace: bool = False) -> dict[str, Any]:
    """Apply ``stream`` to a store on ``url`` and read it back (the shape of
    :func:`reference`; ``trace``, batches of one only: reading after each event)."""
    store = open_store(url, pool_size=1)
    try:
        app_ids = {name: register_app(store, f"shop {name}").app.id for name in APPS}
        events = [to_event(obj, app_ids, i) for i, obj in enumerate(stream)]
        steps = []
        if one_batch:
            outcomes = store.apply_batch(events)
        else:
            outcomes = []
            for obj, event in zip(stream, events, strict=True):
                outcomes += store.apply_batch([event])
                if trace:
                    steps.append([read_person(store, app_ids[obj["app"]], uid)
                                  for uid in uids_of(obj)])
        result = {"outcomes": [note_kind(o) for o in outcomes],
                  **{name: read(store, app_id) for name, app_id in app_ids.items()}}
        return {**result, "trace": steps} if trace else result
    finally:
        store.close()


# -- the property ---------------------------------------------------------------------
def _event(etype: str, guest: str | None = None, visitor: str | None = None,
           info: dict[str, Any] | None = None, message_id: str | None = None,
           **props: Any) -> dict[str, Any]:
    """A hand-written stream's event, in the shape :func:`wire_events` draws."""
    obj = {"app": "A", "type": etype, "guest_uid": guest, "visitor_uid": visitor,
           "properties": props, "visitor_info": info or {}}
    if message_id:
        obj["message_id"] = message_id
    return obj


# Found by this test (which fails on it until the code is fixed): removing a product the
# cart does not hold "does nothing" (docs/state-rules.md), yet ``carts.remove`` reports a
# change, which stamps the guest's cart as changed last; so the merge at login keeps the
# guest's empty cart and deletes the visitor's.
ABSENT_REMOVE_THEN_MERGE = [
    _event("add_to_cart", visitor="v1", product_id="p1", qnt=1, price="9.99"),
    _event("link", guest="g1"),
    _event("remove_from_cart", guest="g1", product_id="p1", qnt=1),
    _event("link", guest="g1", visitor="v1"),
]
PROPERTY = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                          HealthCheck.too_slow])


def differences(got: Any, want: Any, path: str = "") -> list[str]:
    """Where ``got`` (the store) and ``want`` (the model) differ, a line a leaf."""
    if isinstance(got, dict) and isinstance(want, dict):
        return [line for key in sorted(set(got) | set(want), key=str)
                for line in differences(got.get(key, "(absent)"), want.get(key, "(absent)"),
                                        f"{path}.{key}" if path else str(key))]
    if isinstance(got, list) and isinstance(want, list) and len(got) == len(want) \
            and path.startswith(("outcomes", "trace")):
        return [line for i, (g, w) in enumerate(zip(got, want, strict=True))
                for line in differences(g, w, f"{path}[{i}]")]
    return [] if got == want else [f"{path}: the store has {got!r}, the docs say {want!r}"]


def check(fresh_database: Callable[[], str], stream: list[dict[str, Any]], *,
          trace: bool) -> None:
    """Batches of one (``trace``: read after every event too), then one batch: as the
    model says."""
    traced = reference(stream, trace=trace)
    expected = {k: v for k, v in traced.items() if k != "trace"}
    for one_batch in (False, True):
        got = run(fresh_database(), stream, one_batch=one_batch, trace=trace and not one_batch)
        want = expected if one_batch else traced
        way = "one batch differs" if one_batch else "batches of one differ"
        assert got == want, f"{way} from docs/state-rules.md:\n" + "\n".join(
            differences(got, want))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@settings(PROPERTY, max_examples=examples(60))
@given(stream=STREAMS)
@example(stream=ABSENT_REMOVE_THEN_MERGE)
def test_sqlite_one_batch_batches_of_one_and_the_model_agree(
        fresh_database: Callable[[], str], stream: list[dict[str, Any]]) -> None:
    check(fresh_database, stream, trace=True)


# Fewer examples, and the final state only: a PostgreSQL example costs several SQLite
# ones (a round trip a statement); SQLite explores, PostgreSQL checks that the other
# backend agrees.
@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
@settings(PROPERTY, max_examples=examples(10))
@given(stream=STREAMS)
@example(stream=ABSENT_REMOVE_THEN_MERGE)
def test_postgres_one_batch_batches_of_one_and_the_model_agree(
        fresh_database: Callable[[], str], stream: list[dict[str, Any]]) -> None:
    check(fresh_database, stream, trace=False)


def test_the_model_on_a_stream_that_reaches_every_rule() -> None:
    """The model the property trusts, on one hand-made stream: a merge that takes the
    guest's newer cart and the info keys the visitor lacks, a shared device, a duplicate,
    a repeated order, an update without uids, an unknown order, an erased key."""
    ev = _event
    stream = [
        ev("add_to_cart", visitor="v1", product_id="p1", qnt=1, price="1.00"),
        ev("add_to_cart", guest="g1", product_id="p2", qnt=2, price="9.99",
           info={"email": "a@example.com"}),
        ev("link", guest="g1", visitor="v1"),  # merge: the guest's cart is newer
        ev("link", guest="g1", visitor="v2"),  # shared device: g1 now points at v2
        ev("purchase", visitor="v2", order_id="o1", revenue="10.00", message_id="m1"),
        ev("purchase", visitor="v2", order_id="o1", revenue="10.00", message_id="m1"),
        ev("purchase", visitor="v2", order_id="o1", revenue="10.00"),
        ev("order_update", order_id="o1", state="Canceled"),
        ev("order_update", order_id="o4", state="paid"),
        ev("update_info", visitor="v1", info={"email": ""}),
    ]
    result = reference(stream)
    assert result["outcomes"] == [("ok", None)] * 5 + [("duplicate", None), ("ok", "repeat"),
                                                      ("ok", None), ("ok", "unknown"),
                                                      ("ok", None)]
    people = result["A"]["people"]
    assert people["v1"]["guest_uids"] == [] and people["v1"]["info"] == {}
    assert people["v1"]["cart"] == [("p2", 2, Decimal("9.99"))]
    assert people["g1"] == people["v2"] and people["v2"]["orders"] == ["o1"]
    assert people["v2"]["event_count"] == 4  # link, purchase, purchase again, the update
    assert result["A"]["orders"]["o1"]["state"] == "cancelled"
    assert result["A"]["stored"] == 9
