"""The endpoint's URL and headers as plain values: the canonical base URL that enters the cache identity, and
``Retry-After``. Kept apart from the client so a fully cached run (which needs the identity, not a connection)
never imports httpx for a plain URL."""

from __future__ import annotations

import email.utils
import math
import re
import time

from tunegate.errors import BackendError

# URLs whose canonical form needs no parser: http(s), an ASCII host name or IPv4 address, an optional port, a
# path of unreserved characters with no dot segments, nothing else. Every other URL goes through httpx.URL.
_PLAIN_URL = re.compile(r"(https?)://([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)(?::([1-9][0-9]{0,4}))?"
                        r"((?:/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)*/?)")


def _plain_base_url(url: str) -> str | None:
    """``normalise_base_url`` without httpx for URLs that need no parsing (equal on a tested table); else None."""
    m = _PLAIN_URL.fullmatch(url)
    if m is None:
        return None
    scheme, host, port, path = m.groups()
    if any(label.lower().startswith("xn--") for label in host.split(".")):
        return None  # punycode: httpx decodes it (or refuses it), so only httpx gives the same identity
    # an IPv4-style host must be one httpx accepts (4 octets <= 255, no leading zeros); a name is not checked
    parts = host.split(".") if host.replace(".", "").isdigit() else ["0"] * 4
    if len(parts) != 4 or any(str(int(p)) != p or int(p) > 255 for p in parts) or int(port or 0) > 65535:
        return None
    keep = f":{port}" if port is not None and int(port) != {"http": 80, "https": 443}[scheme] else ""
    return f"{scheme}://{host.lower()}{keep}{path.rstrip('/')}"


def normalise_base_url(base_url: str) -> str:
    """Canonical endpoint URL for identity and logs: lower-case scheme/host, no default port, no trailing
    slash, and no user-info or query string (either can carry credentials)."""
    if (plain := _plain_base_url(base_url.strip())) is not None:
        return plain
    import httpx

    url = httpx.URL(base_url.strip())
    if url.scheme not in ("http", "https") or not url.host:
        raise BackendError(f"base_url must be an http(s) URL with a host, got {base_url!r}")
    default = {"http": 80, "https": 443}[url.scheme]
    port = f":{url.port}" if url.port not in (None, default) else ""
    return f"{url.scheme}://{url.host.lower()}{port}{url.path.rstrip('/')}"


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date); None if absent or invalid."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value.strip())
        except (TypeError, ValueError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    return max(0.0, seconds) if math.isfinite(seconds) else None
