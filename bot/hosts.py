"""The Host-header check of the endpoints a browser can reach (DNS rebinding).

A page on another site can make a victim's browser resolve its own name to 127.0.0.1 and talk
to the bot with that name in `Host`; refusing every Host not configured stops it.
`CS_ALLOWED_HOSTS` lists the names the bot is reached by (comma-separated, ports ignored):
by default only the loopback names. Behind a proxy, add the public name.
"""

from __future__ import annotations

import os
from typing import FrozenSet, Optional, Text

from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

DEFAULT_ALLOWED_HOSTS = "127.0.0.1,localhost,[::1]"


def allowed_hosts() -> FrozenSet[Text]:
    configured = os.environ.get("CS_ALLOWED_HOSTS") or DEFAULT_ALLOWED_HOSTS
    return frozenset(_host_name(host) for host in configured.split(",") if host.strip())


def _host_name(host: Text) -> Text:
    """`Host` without its port, lower case; IPv6 literals keep their brackets."""
    host = host.strip().lower()
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def refuse_foreign_host(request: Request, allowed: FrozenSet[Text]) -> Optional[HTTPResponse]:
    """A 403 naming the fix when the request's Host is not one of `allowed`, else None."""
    host = _host_name(request.headers.get("host", ""))
    if host in allowed:
        return None
    return response.json(
        {"error": f"Host {host!r} is not allowed; add it to CS_ALLOWED_HOSTS if the bot is reached by that name."},
        status=403,
    )
