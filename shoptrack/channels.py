"""Where a visit came from: its channel, from the first event's referrer and page URL.

Pure functions, no I/O.  The rule (docs/reports.md):

* ``utm_medium`` decides first: paid media (``cpc``, ``ppc``, ``cpm``, ``paid*``,
  ``display``, ``banner``, ``retargeting``...) is ``paid``; ``email``,
  ``e-mail``, ``newsletter`` is ``email``; ``social*``, ``sm``, ``smm`` is
  ``social``; ``organic`` is ``search``.
* Otherwise the referrer's domain: none, or the shop's own host, is ``direct``;
  a known search engine ``search``; a known social network ``social``; a known
  web mail ``email``; anything else ``referral``.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

CHANNELS = ("direct", "search", "social", "email", "referral", "paid")
MAX_PART = 200

_PAID = ("cpc", "ppc", "cpm", "cpa", "cpv", "paid", "display", "banner", "retargeting",
         "remarketing", "affiliate_paid", "ads", "ad")
_EMAIL = ("email", "e-mail", "e_mail", "newsletter", "mail", "mailing")
_SOCIAL = ("social", "sm", "smm", "social-network", "social_network", "social-media")
_SEARCH_ENGINES = ("google.", "bing.com", "yandex.", "ya.ru", "duckduckgo.com", "yahoo.",
                   "baidu.com", "ecosia.org", "go.mail.ru", "search.", "rambler.ru",
                   "startpage.com", "qwant.com", "seznam.cz", "naver.com")
_SOCIAL_SITES = ("facebook.com", "fb.com", "vk.com", "vk.ru", "ok.ru", "instagram.com",
                 "t.me", "telegram.org", "twitter.com", "x.com", "t.co", "linkedin.com",
                 "lnkd.in", "youtube.com", "pinterest.", "reddit.com", "tiktok.com",
                 "dzen.ru", "threads.net", "whatsapp.com", "wa.me")
_WEBMAIL = ("mail.google.com", "e.mail.ru", "mail.yandex.", "outlook.live.com",
            "mail.yahoo.com", "outlook.office.com", "mail.rambler.ru")


@dataclass(frozen=True, slots=True)
class Source:
    channel: str
    referrer_domain: str | None
    utm_source: str | None
    utm_campaign: str | None


def _host(url: str | None) -> str | None:
    if not url:
        return None
    try:
        host = urlsplit(url if "//" in url else "//" + url).hostname
    except ValueError:
        return None
    if not host:
        return None
    return host.removeprefix("www.")[:MAX_PART]


def _matches(host: str, names: tuple[str, ...]) -> bool:
    for name in names:
        if name.endswith("."):
            if host.startswith(name) or f".{name}" in f".{host}":
                return True
        elif host == name or host.endswith("." + name):
            return True
    return False


def _utm(url: str | None) -> dict[str, str]:
    if not url or "utm_" not in url:
        return {}
    try:
        query = parse_qs(urlsplit(url).query)
    except ValueError:
        return {}
    return {key: values[0].strip()[:MAX_PART] for key, values in query.items()
            if key.startswith("utm_") and values and values[0].strip()}


def source_of(url: str | None, referrer: str | None) -> Source:
    """The source of a visit whose first event has this page URL and referrer."""
    utm = _utm(url)
    ref = _host(referrer)
    if ref is not None and ref == _host(url):
        ref = None  # a link inside the shop: no outside referrer
    medium = utm.get("utm_medium", "").lower()
    channel: str | None = None
    if medium:
        if medium in _PAID or medium.startswith("paid"):
            channel = "paid"
        elif medium in _EMAIL:
            channel = "email"
        elif medium in _SOCIAL or medium.startswith("social"):
            channel = "social"
        elif medium == "organic":
            channel = "search"
    if channel is None:
        if ref is None:
            channel = "referral" if utm.get("utm_source") else "direct"
        elif _matches(ref, _WEBMAIL):
            channel = "email"
        elif _matches(ref, _SEARCH_ENGINES):
            channel = "search"
        elif _matches(ref, _SOCIAL_SITES):
            channel = "social"
        else:
            channel = "referral"
    return Source(channel, ref, utm.get("utm_source"), utm.get("utm_campaign"))
