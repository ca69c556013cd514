"""shoptrack: a self-hosted e-commerce event-tracking server.

It speaks Convead's tracking protocol (``POST /watch/event``), stores every
event durably through a group-commit write path, and keeps each shop's
visitors, carts and orders up to date.  See README.md for the tour.
"""

__version__ = "0.1.0"
