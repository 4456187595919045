"""What the HTTP layers read off a request: the client's address, credentials, language."""

from __future__ import annotations

from ipaddress import ip_address

from starlette.requests import HTTPConnection

from core.i18n import negotiate
from core.settings import Settings


def client_ip(conn: HTTPConnection, settings: Settings) -> str:
    """The peer address, or the first untrusted hop of X-Forwarded-For when the peer
    is a trusted proxy (`WASHGATE_TRUSTED_PROXIES`); forwarded headers are ignored otherwise."""
    peer = conn.client.host if conn.client else "unknown"
    networks = settings.trusted_networks
    if not networks or not _trusted(peer, settings):
        return peer
    forwarded = conn.headers.get("x-forwarded-for", "")
    hops = [hop.strip() for hop in forwarded.split(",")[-16:] if hop.strip()]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:  # not an address: a broken chain counts as the proxy itself
            return peer
        if not _trusted(address, settings):
            return address
    return (_address(hops[0]) if hops else None) or peer


def _address(text: str) -> str | None:
    """`text` as a normalised IP address (an IPv6 zone dropped), or None: what goes into
    limit keys stays short whatever a client writes into X-Forwarded-For."""
    try:
        return str(ip_address(text.partition("%")[0]))
    except ValueError:
        return None


def _trusted(address: str, settings: Settings) -> bool:
    try:
        parsed = ip_address(address)
    except ValueError:
        return False
    return any(parsed in network for network in settings.trusted_networks)


def bearer_token(authorization: str | None) -> str | None:
    """The token of `Authorization: Bearer <t>` or `Authorization: OAuth <t>`."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() not in ("bearer", "oauth") or not token.strip():
        return None
    return token.strip()


def request_locale(conn: HTTPConnection, default: str, *, lang_header: bool = False) -> str:
    """ru or en: `Lang` (header or query, when the API has it) wins over `Accept-Language`."""
    if lang_header:
        lang = conn.headers.get("lang") or conn.query_params.get("Lang") or conn.query_params.get("lang")
        chosen = negotiate(lang, None)  # a language we do not speak falls through to Accept-Language
        if chosen is not None:
            return chosen
    return negotiate(conn.headers.get("accept-language"), default) or default
