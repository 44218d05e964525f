"""Webhook alerts: POST a short summary of a monitor run to a URL read from an environment variable.

The URL often carries a secret (Slack and Teams hooks are bearer URLs), so it is read at send time from the
variable *named* in the spec and never printed, logged or written: errors say what failed, never where to.
"""

from __future__ import annotations

import os
from typing import Any


def summary(doc: dict[str, Any]) -> dict[str, Any]:
    """The payload: overall status and the alerting tests, small enough for a chat message."""
    alerts = [t for t in doc["tests"] if t["status"] == "alert"]
    names = ", ".join(t["name"] for t in alerts[:10]) or "none"
    msgs = [str(m) for m in doc.get("messages") or []]  # what changed, in words
    return {
        "text": f"tunegate monitor: {doc['status'].upper()} - {len(alerts)} of {len(doc['tests'])} tests alert "
                f"({names})" + "".join(f"\n• {m}" for m in msgs[:5]),
        "messages": msgs,
        "status": doc["status"],
        "model": doc.get("model"),
        "task": doc.get("task"),
        "n_tests": len(doc["tests"]),
        "alerts": [{k: t.get(k) for k in ("name", "statistic", "p_value", "p_adjusted", "threshold", "detail")}
                   for t in alerts],
        "current": doc.get("current"),
    }


def send_webhook(doc: dict[str, Any], url_env: str, *, timeout_s: float = 10.0) -> dict[str, Any]:
    """POST the summary; returns a record for monitor.json ({sent, status_code | error}) without the URL."""
    import logging

    import httpx

    from tunegate.redact import redact, register_secret_env

    register_secret_env(url_env)  # the URL is the secret: masked wherever text about this send is printed
    url = os.environ.get(url_env)
    if not url:
        return {"sent": False, "variable": url_env, "error": f"environment variable {url_env} is not set"}
    log = logging.getLogger("httpx")  # httpx logs every request URL at INFO: silence it for this one
    level = log.level
    log.setLevel(logging.WARNING)
    try:
        resp = httpx.post(url, json=summary(doc), timeout=timeout_s)
    except httpx.HTTPError as exc:
        return {"sent": False, "variable": url_env,
                "error": redact(f"webhook POST failed: {type(exc).__name__}")}
    finally:
        log.setLevel(level)
    ok = 200 <= resp.status_code < 300
    rec: dict[str, Any] = {"sent": ok, "variable": url_env, "status_code": resp.status_code}
    if not ok:
        rec["error"] = f"webhook answered HTTP {resp.status_code}"
    return rec
