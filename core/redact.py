"""Credentials never leave the process: every URL passes through `redact_url` before it is
logged, raised, returned by the API or stored."""

import re
from urllib.parse import urlsplit, urlunsplit

_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^@/\s]*)@")


def redact_url(url: str) -> str:
    """`rtsp://admin:secret@host/x` -> `rtsp://admin:***@host/x`; URLs without a password are unchanged."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_text(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def redact_text(text: str) -> str:
    """Mask the password of every URL inside free text (error messages from libraries)."""

    def mask(match: re.Match[str]) -> str:
        user, sep, _ = match["userinfo"].partition(":")
        return f"{match['scheme']}{user}:***@" if sep else match.group(0)

    return _USERINFO.sub(mask, text)
