"""Triggers: rules that win sales back, and their delivery, exactly once (docs/triggers.md).

* :mod:`.rules`: kinds, ``after`` durations, filters, defaults; a rule as JSON.
* :mod:`.checks`: what a due firing becomes at send time (exits, filters, caps).
* :mod:`.payload`: the message body every channel sends.
* :mod:`.scheduler`: the background thread of every server process.
* :mod:`.webhook` and :mod:`.email`: one module per delivery channel.
* :mod:`.links`: signed unsubscribe, click and open (tracking image) links.
* :mod:`.secret_box`: the SMTP password encrypted at rest, with a key outside the database.
* :mod:`.report`: the report per rule and step over a period (``/api/v1/reports/triggers``).

Due firings are written by the write path (:mod:`shoptrack.store.firings`); the
storage contract is :mod:`shoptrack.store.trigger_contract`.
"""
