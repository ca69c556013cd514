"""The dashboard: server-rendered pages for a shop's owner and marketers.

* :mod:`.routes`: what is served where (thin); one module per page family:
  :mod:`.login`, :mod:`.overview`, :mod:`.visitors`, :mod:`.orders`, :mod:`.carts`,
  :mod:`.live`, :mod:`.events`, :mod:`.settings`.
* :mod:`.sessions`: the session cookie, the app on screen, owner checks, CSRF.
* :mod:`.render` and ``templates/``: Jinja2 (autoescape on), one template a page plus
  ``base.html``; :mod:`.formats`: money in the app's currency, moments in its time zone.
* :mod:`.assets` and ``static/``: our CSS/JS and the vendored chart library (uPlot,
  fetched from the npm registry by ``scripts/vendor-assets.sh``), served with cache headers.

Numbers come from :mod:`shoptrack.reports`, the same code as the reports API; lists of
visitors and orders from the store's read methods, as the read API's.
"""

from __future__ import annotations

from fastapi import FastAPI

__all__ = ["install"]


def install(app: FastAPI) -> None:
    """Add the dashboard's routes, static files and error pages to ``app``."""
    from shoptrack.dashboard.routes import install as install_routes

    install_routes(app)
