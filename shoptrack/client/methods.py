"""One typed method per Convead event type, shared by Tracker and AsyncTracker.

:class:`EventMethods` turns each call into ``(type, properties, uids,
visitor_info, context)`` and hands it to ``_submit``, which the trackers
implement: :class:`~shoptrack.client.Tracker` returns None,
:class:`~shoptrack.client.AsyncTracker` returns a coroutine to await.  So the
signatures and docstrings below are written once.

Every method takes, besides its own arguments:

* ``guest_uid`` / ``visitor_uid``: at least one (the browser's
  ``convead_guest_uid`` cookie, the shop's customer id); both when a guest
  logs in or buys.  Without either, InvalidEvent (a ValueError) is raised,
  except for ``order_update``.
* ``visitor_info``: the visitor's attributes (``first_name``, ``last_name``,
  ``email``, ``phone``, ``date_of_birth``, ``gender``, ``language`` or custom
  keys); an empty string erases a field.
* the :class:`~shoptrack.client.events.EventContext` keywords: ``url``,
  ``title``, ``referrer``, ``domain``, ``path``, ``host``, ``attributes``,
  ``message_id``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Generic, TypeVar, Unpack

from shoptrack.client import events
from shoptrack.client.errors import InvalidEvent
from shoptrack.client.events import EventContext, Id, Item, Money, Uid

R = TypeVar("R", covariant=True)

Info = Mapping[str, object]


class EventMethods(Generic[R]):
    """The tracking methods; subclasses implement :meth:`_submit`."""

    def _submit(
        self,
        event_type: str,
        properties: dict[str, object] | None,
        guest_uid: Uid | None,
        visitor_uid: Uid | None,
        visitor_info: Info | None,
        context: EventContext,
    ) -> R:
        raise NotImplementedError

    def event(
        self,
        event_type: str,
        *,
        properties: Mapping[str, object] | None = None,
        guest_uid: Uid | None = None,
        visitor_uid: Uid | None = None,
        visitor_info: Info | None = None,
        **context: Unpack[EventContext],
    ) -> R:
        """Any event type, with ``properties`` as given (no normalisation).

        Example::

            tracker.event("view_product", guest_uid=g, properties={"product_id": "123"})
        """
        props = dict(properties) if properties else None
        return self._submit(event_type, props, guest_uid, visitor_uid, visitor_info, context)

    def link(
        self,
        url: str,
        /,
        *,
        guest_uid: Uid | None = None,
        visitor_uid: Uid | None = None,
        visitor_info: Info | None = None,
        **context: Unpack[EventContext],
    ) -> R:
        """A page view of ``url`` (``link``); the page fields sit at the root of the event.

        Example::

            tracker.link("https://shop.example/catalog?page=2", guest_uid=g,
                         title="Shoes", referrer="https://google.com/")
        """
        if not isinstance(url, str) or not url:
            raise InvalidEvent("link: url must be a non-empty string")
        page: EventContext = {**context, "url": url}
        return self._submit("link", None, guest_uid, visitor_uid, visitor_info, page)

    def view_product(
        self,
        *,
        product_id: Id,
        product_name: str | None = None,
        product_url: str | None = None,
        category_id: Id | None = None,
        price: Money | None = None,
        product_image_url: str | None = None,
        guest_uid: Uid | None = None,
        visitor_uid: Uid | None = None,
        visitor_info: Info | None = None,
        **context: Unpack[EventContext],
    ) -> R:
        """A view of one product (``view_product``).

        Example::

            tracker.view_product(guest_uid=g, product_id="123", product_name="Boots",
                                 price=Decimal("125.15"))
        """
        props = events.properties(
            product_id=events.id_value(product_id, "product_id"),
            product_name=product_name,
            product_url=product_url,
            category_id=events.id_or_none(category_id, "category_id"),
            price=None if price is None else events.money(price, "price"),
            product_image_url=product_image_url,
        )
        return self._submit("view_product", props, guest_uid, visitor_uid, visitor_info, context)

    def add_to_cart(
        self,
        *,
        product_id: Id,
        qnt: Money,
        price: Money,
        product_name: str | None = None,
        product_url: str | None = None,
        product_image_url: str | None = None,
        guest_uid: Uid | None = None,
        visitor_uid: Uid | None = None,
        visitor_info: Info | None = None,
        **context: Unpack[EventContext],
    ) -> R:
        """``qnt`` of one product put into the cart at ``price`` (``add_to_cart``).

        Example::

            tracker.add_to_cart(guest_uid=g, product_id="123", qnt=2, price=Decimal("125.03"))
        """
        props = events.properties(
            product_id=events.id_value(product_id, "product_id"),
            qnt=events.money(qnt, "qnt"),
            price=events.money(price, "price"),
            product_name=product_name,
            product_url=product_url,
            product_image_url=product_image_url,
        )
        return self._submit("add_to_cart", props, guest_uid, visitor_uid, visitor_info, context)

    def remove_from_cart(
        self,
        *,
        product_id: Id,
        qnt: Money,
        product_name: str | None = None,
        product_url: str | None = None,
        guest_uid: Uid | None = None,
        visitor_uid: Uid | None = None,
        visitor_info: Info | None = None,
        **context: Unpack[EventContext],
    ) -> R:
        """``qnt`` of one product taken out of the cart (``remove_from_cart``).

        Example::

            tracker.remove_from_cart(guest_uid=g, product_id="123", qnt=1)
        """
        props = events.properties(
            product_id=events.id_value(product_id, "product_id"),
            qnt=events.money(qnt, "qnt"),
            product_name=product_name,
            product_url=product_url,
        )
        return self._submit(
            "remove_from_cart", props, guest_uid, visitor_uid, visitor_info, context
        )

    def update_cart(
        self,
        *,
        items: Sequence[Item],
        guest_uid: Uid | None = None,
        visitor_uid: Uid | None = None,
        visitor_info: Info | None = None,
        **context: Unpack[EventContext],
    ) -> R:
        """The whole cart, replacing what it held (``update_cart``); ``items=[]`` empties it.

        Example::

            tracker.update_cart(guest_uid=g, items=[
                {"product_id": "123", "qnt": 1, "price": Decimal("125.03")},
                {"product_id": "77", "qnt": 1, "price": Decimal("99.90")},
            ])
        """
        props: dict[str, object] = {"items": events.items(items)}
        return self._submit("update_cart", props, guest_uid, visitor_uid, visitor_info, context)

    def purchase(
        self,
        *,
        order_id: Id,
        revenue: Money,
        items: Sequence[Item] | None = None,
        state: str | None = None,
        guest_uid: Uid | None = None,
        visitor_uid: Uid | None = None,
        visitor_info: Info | None = None,
        **context: Unpack[EventContext],
    ) -> R:
        """An order (``purchase``); the server empties the visitor's cart.

        Example::

            tracker.purchase(visitor_uid="42", order_id="A-1", revenue=Decimal("99.99"),
                             items=[{"product_id": "7", "qnt": 1, "price": Decimal("99.99")}],
                             visitor_info={"email": "x@example.com"})
        """
        props = events.properties(
            order_id=events.id_value(order_id, "order_id"),
            revenue=events.money(revenue, "revenue"),
            items=None if items is None else events.items(items),
            state=state,
        )
        return self._submit("purchase", props, guest_uid, visitor_uid, visitor_info, context)

    def order_update(
        self,
        *,
        order_id: Id,
        state: str | None = None,
        revenue: Money | None = None,
        items: Sequence[Item] | None = None,
        guest_uid: Uid | None = None,
        visitor_uid: Uid | None = None,
        visitor_info: Info | None = None,
        **context: Unpack[EventContext],
    ) -> R:
        """A change to an existing order (``order_update``): its state, revenue or items.

        The only event that needs no uid: the server finds the visitor
        through the order (an unknown ``order_id`` is ignored).  States:
        ``new``, ``paid``, ``shipped``, ``cancelled`` or the shop's own codes.

        Example::

            tracker.order_update(order_id="A-1", state="shipped")
        """
        props = events.properties(
            order_id=events.id_value(order_id, "order_id"),
            state=state,
            revenue=None if revenue is None else events.money(revenue, "revenue"),
            items=None if items is None else events.items(items),
        )
        return self._submit("order_update", props, guest_uid, visitor_uid, visitor_info, context)

    def custom(
        self,
        key: str,
        *,
        properties: Mapping[str, object] | None = None,
        guest_uid: Uid | None = None,
        visitor_uid: Uid | None = None,
        visitor_info: Info | None = None,
        **context: Unpack[EventContext],
    ) -> R:
        """A shop-defined event named ``key`` (``custom``), with any ``properties``.

        Example::

            tracker.custom("newsletter_signup", guest_uid=g, properties={"source": "footer"})
        """
        if not isinstance(key, str) or not key.strip():
            raise InvalidEvent("custom: key must be a non-empty string")
        props = {**(properties or {}), "key": key}
        return self._submit("custom", props, guest_uid, visitor_uid, visitor_info, context)

    def update_info(
        self,
        *,
        visitor_info: Info,
        guest_uid: Uid | None = None,
        visitor_uid: Uid | None = None,
        **context: Unpack[EventContext],
    ) -> R:
        """New attributes for the visitor (``update_info``); ``""`` erases a field.

        Example::

            tracker.update_info(visitor_uid="42", visitor_info={
                "first_name": "Ivan", "email": "ivan@example.com", "phone": ""})
        """
        if not visitor_info:
            raise InvalidEvent("update_info: visitor_info must not be empty")
        return self._submit("update_info", None, guest_uid, visitor_uid, visitor_info, context)

    def mailto(
        self,
        *,
        email: str,
        guest_uid: Uid | None = None,
        visitor_uid: Uid | None = None,
        visitor_info: Info | None = None,
        **context: Unpack[EventContext],
    ) -> R:
        """A click on a ``mailto:`` link to ``email`` (``mailto``).

        Example::

            tracker.mailto(guest_uid=g, email="sales@shop.example")
        """
        props: dict[str, object] = {"email": email}
        return self._submit("mailto", props, guest_uid, visitor_uid, visitor_info, context)

    def file(
        self,
        *,
        file_url: str,
        file_title: str | None = None,
        guest_uid: Uid | None = None,
        visitor_uid: Uid | None = None,
        visitor_info: Info | None = None,
        **context: Unpack[EventContext],
    ) -> R:
        """A download of ``file_url`` (``file``).

        Example::

            tracker.file(guest_uid=g, file_url="https://shop.example/price.pdf",
                         file_title="Price list")
        """
        props = events.properties(file_url=file_url, file_title=file_title)
        return self._submit("file", props, guest_uid, visitor_uid, visitor_info, context)

    def login(
        self,
        *,
        visitor_uid: Uid,
        guest_uid: Uid | None = None,
        visitor_info: Info | None = None,
        **context: Unpack[EventContext],
    ) -> R:
        """The visitor logged in as ``visitor_uid`` (``login``); with ``guest_uid``,
        the guest's history joins the visitor's.

        Example::

            tracker.login(guest_uid=g, visitor_uid="42")
        """
        uid = events.id_value(visitor_uid, "visitor_uid")
        props: dict[str, object] = {"visitor_uid": uid}
        return self._submit("login", props, guest_uid, uid, visitor_info, context)
