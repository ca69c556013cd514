"""shoptrack's Python client: send shop events from a back end.

Example::

    from decimal import Decimal
    from shoptrack.client import Tracker

    tracker = Tracker(app_key="APPKEY", endpoint="https://track.shop.example")
    tracker.view_product(guest_uid=g, product_id="123", product_name="Boots",
                         price=Decimal("125.15"))
    tracker.purchase(visitor_uid="42", order_id="A-1", revenue=Decimal("99.99"),
                     visitor_info={"email": "x@example.com"})
    tracker.flush()

:class:`Tracker` is for threaded code (background thread by default,
``sync=True`` to send each call and raise on failure); :class:`AsyncTracker`
for asyncio.  Both send to the batch endpoint ``POST /watch/events``.

This package imports nothing but the standard library and httpx, so that
``pip install shoptrack[client]`` is enough to use it.  See docs/client.md.
"""

from shoptrack.client.aio import AsyncTracker
from shoptrack.client.errors import (
    DeliveryError,
    EventRejected,
    InvalidEvent,
    QueueFull,
    Rejected,
    RequestRejected,
    ShoptrackError,
    TrackerClosed,
)
from shoptrack.client.events import EventContext, Item
from shoptrack.client.retry import RetryPolicy
from shoptrack.client.tracker import Tracker

__all__ = [
    "AsyncTracker",
    "DeliveryError",
    "EventContext",
    "EventRejected",
    "InvalidEvent",
    "Item",
    "QueueFull",
    "Rejected",
    "RequestRejected",
    "RetryPolicy",
    "ShoptrackError",
    "Tracker",
    "TrackerClosed",
]
