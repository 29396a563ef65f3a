"""Credentials never leave the process: every URL passes through `redact_url` before it is
logged, raised, returned by the API or stored."""

import re
from urllib.parse import urlsplit, urlunsplit

# The user information runs to the authority's LAST "@" (a password may itself hold "@"), and the
# authority ends at the first "/", whitespace or quote.
_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/\s'\"]*)@")
# libpq's key=value connection strings, as psycopg quotes them in errors: password=secret or 'se cret'.
_CONNINFO_PASSWORD = re.compile(r"(?P<key>\bpassword\s*=\s*)(?P<value>'(?:[^'\\]|\\.)*'|[^\s'\"]+)", re.IGNORECASE)


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
    """Mask the password of every URL inside free text (error messages from libraries, tracebacks),
    and every `password=...` of a key=value connection string."""

    def mask(match: re.Match[str]) -> str:
        user, sep, _ = match["userinfo"].partition(":")
        return f"{match['scheme']}{user}:***@" if sep else match.group(0)

    return _CONNINFO_PASSWORD.sub(r"\g<key>***", _USERINFO.sub(mask, text))
