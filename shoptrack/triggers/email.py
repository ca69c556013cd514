"""The e-mail channel: HTML and text bodies from Jinja2 templates, sent over SMTP.

Each rule may carry its own templates (``subject``, ``html``, ``text``); the
defaults (``templates/email.html``, ``email.txt``) show the cart with images and
a recovery link.  Rule templates run in Jinja2's sandbox with autoescape on for
HTML.  The HTML part ends with a 1x1 tracking image (``/t/open/``: opens are counted
per delivery; a rule's template may place it with ``{{ open_pixel }}``).  Every
message has an unsubscribe link and the ``List-Unsubscribe`` /
``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` headers (RFC 8058); links
go through ``/t/click/`` (counted, then redirected to the shop's domains only).

SMTP settings are per app (``shoptrack triggers smtp``): ``host``, ``port``,
``security`` (``starttls``, ``tls`` or ``none``), ``user``, ``password``, ``sender``.
"""

from __future__ import annotations

import smtplib
import ssl
import time
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import make_msgid
from typing import Any

import jinja2
import markupsafe
import orjson
from jinja2.sandbox import SandboxedEnvironment

from shoptrack.triggers import links

SUBJECTS = {
    "abandoned_cart": "You left something in your cart",
    "abandoned_view": "Still interested?",
    "order_placed": "Thank you for your order",
    "order_state": "Your order has been updated",
    "visitor_identified": "Welcome",
    "custom_event": "A message from the shop",
}
_defaults = jinja2.Environment(loader=jinja2.PackageLoader("shoptrack.triggers", "templates"),
                               autoescape=jinja2.select_autoescape(["html"]))
# Long header lines (the unsubscribe URL) stay whole, not RFC 2047-encoded.
_POLICY = SMTP_POLICY.clone(max_line_length=998)
_sandbox_html = SandboxedEnvironment(autoescape=True)
_sandbox_text = SandboxedEnvironment(autoescape=False)


def render(payload: dict[str, Any], template: dict[str, str] | None, *, to: str, base: str,
           key: bytes, msg_id: str, app_id: int) -> dict[str, str]:
    """The message as stored in the delivery: to, subject, html, text, unsubscribe URL."""
    data = payload["data"]
    template = template or {}
    unsubscribe = links.unsubscribe_url(base, key, app_id, to)

    def track(url: str | None) -> str | None:
        return None if not url else links.click_url(base, key, msg_id, url)

    items = data["cart"]["items"] or data.get("viewed") or (data.get("order") or {}).get(
        "items") or []
    items = [{**item, "name": item.get("name") or item.get("product_name"),
              "image": item.get("image") or item.get("product_image_url"),
              "url": item.get("url") or item.get("product_url")} for item in items]
    subject_source = template.get("subject") or SUBJECTS.get(data["rule"]["kind"], "")
    context = {**data, "items": items, "unsubscribe_url": unsubscribe, "track": track,
               "recovery_link": track(data.get("recovery_url"))}
    pixel_url = links.open_url(base, key, msg_id)
    context["open_pixel"] = markupsafe.Markup(
        f'<img src="{markupsafe.escape(pixel_url)}" width="1" height="1" alt=""'
        ' style="display:block;border:0;width:1px;height:1px">')
    out: dict[str, str] = {"to": to, "unsubscribe_url": unsubscribe}
    for name, sandbox in (("html", _sandbox_html), ("text", _sandbox_text)):
        env: jinja2.Environment = sandbox if template.get(name) else _defaults
        compiled = (env.from_string(template[name]) if template.get(name)
                    else env.get_template(f"email.{'txt' if name == 'text' else 'html'}"))
        out[name] = compiled.render(**context, subject=subject_source)
    if str(markupsafe.escape(pixel_url)) not in out["html"]:
        html, found, tail = out["html"].rpartition("</body>")
        out["html"] = (f"{html}{context['open_pixel']}</body>{tail}" if found
                       else out["html"] + str(context["open_pixel"]))
    out["subject"] = _sandbox_text.from_string(subject_source).render(**context).strip()
    return out


def message(body: str, sender: str, msg_id: str) -> EmailMessage:
    mail = orjson.loads(body)
    msg = EmailMessage(policy=_POLICY)
    msg["From"] = sender
    msg["To"] = mail["to"]
    msg["Subject"] = mail["subject"]
    msg["Message-ID"] = make_msgid(idstring=msg_id, domain="shoptrack")
    msg["X-Shoptrack-Message"] = msg_id
    msg["List-Unsubscribe"] = f"<{mail['unsubscribe_url']}>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(mail["text"])
    msg.add_alternative(mail["html"], subtype="html")
    return msg


def send(settings: dict[str, Any], body: str, msg_id: str,
         timeout: float) -> tuple[str, float, int | None, str | None]:
    """Send once: (outcome ``ok``/``smtp_error``/``network``, latency ms, SMTP code, text)."""
    began = time.perf_counter()
    host, port = settings["host"], int(settings.get("port") or 25)
    security = settings.get("security", "none")
    try:
        smtp: smtplib.SMTP
        if security == "tls":
            smtp = smtplib.SMTP_SSL(host, port, timeout=timeout,
                                    context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(host, port, timeout=timeout)
        with smtp:
            if security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if settings.get("user"):
                smtp.login(settings["user"], settings.get("password") or "")
            smtp.send_message(message(body, settings["sender"], msg_id))
    except smtplib.SMTPRecipientsRefused as exc:
        code, text = next(iter(exc.recipients.values()), (None, b""))
        return ("smtp_error", (time.perf_counter() - began) * 1000, code,
                f"recipient refused: {text.decode(errors='replace')}"[:500])
    except smtplib.SMTPResponseException as exc:
        said: Any = exc.smtp_error
        said = said.decode(errors="replace") if isinstance(said, bytes) else str(said)
        return ("smtp_error", (time.perf_counter() - began) * 1000, exc.smtp_code,
                f"{type(exc).__name__}: {said}"[:500])
    except (smtplib.SMTPException, OSError) as exc:
        return ("network", (time.perf_counter() - began) * 1000, None,
                f"{type(exc).__name__}: {exc}"[:500])
    return "ok", (time.perf_counter() - began) * 1000, 250, None


def describe(settings: dict[str, Any], outcome: str, code: int | None,
             text: str | None) -> str:
    """One line saying what a try gave, for people (``shoptrack triggers test``)."""
    server = f"{settings.get('host')}:{settings.get('port') or 25}"
    if outcome == "ok":
        return f"accepted by {server}"
    if outcome == "smtp_error":
        what = {535: "authentication failed", 530: "authentication required",
                550: "mailbox unavailable", 553: "address not allowed",
                554: "transaction failed"}.get(code or 0, "refused")
        kind = "permanent" if (code or 0) >= 500 else "temporary"
        return f"{what} at {server} ({kind} SMTP error {code}): {text}"
    return f"could not talk to {server}: {text}"
