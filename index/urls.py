"""URLs: one canonical form for identity and duplicate detection, and the checks feeds and pages share.

Pure string work (no network, no DNS): ``canonical_url`` lower-cases scheme and host, drops default ports,
fragments and tracking parameters (``utm_*``, ``fbclid``, ...), so a story linked from two feeds, or with two
campaign tags, is one story. ``index.feeds`` keys items by it, ``index.pages`` ids articles by it, and the bot
checks feed addresses with it.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

__all__ = ["canonical_url", "host_of", "is_web_url"]

# Query parameters that only say where a click came from; removed for identity and duplicate detection.
_TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_", "at_")
_TRACKING_NAMES = frozenset(
    {
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "twclid",
        "ttclid",
        "igshid",
        "mc_cid",
        "mc_eid",
        "_ga",
        "_gl",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
        "oly_anon_id",
        "oly_enc_id",
        "vero_id",
        "vero_conv",
        "__twitter_impression",
        "ocid",
        "cmpid",
        "ncid",
        "sr_share",
    }
)
_DEFAULT_PORTS = {"http": 80, "https": 443}


def canonical_url(url: str) -> str:
    """Normalise a URL for identity and duplicate detection; the result still opens the same page.

    Lower-cases the scheme and host, drops the default port, the fragment and tracking parameters (``utm_*``,
    ``fbclid``, ``gclid``, ...), and gives an empty path as ``/``. Other parameters keep their order and their
    encoding. Strings that are not absolute http(s) URLs (``tag:...``, ``urn:...``) come back stripped.

    Args:
        url: any URL string.

    Returns:
        The canonical form.
    """
    text = url.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return text
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return text
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    if parts.username is not None:
        userinfo = parts.netloc.rpartition("@")[0]
        netloc = f"{userinfo}@{netloc}"
    query = "&".join(pair for pair in parts.query.split("&") if pair and not _is_tracking(pair))
    return urlunsplit((scheme, netloc, parts.path or "/", query, ""))


def _is_tracking(pair: str) -> bool:
    name = pair.split("=", 1)[0].lower()
    return name in _TRACKING_NAMES or name.startswith(_TRACKING_PREFIXES)



def is_web_url(url: str) -> bool:
    """Whether ``url`` is an absolute http or https URL (what feeds and pages may link to and be fetched from).

    Raises:
        ValueError: the URL is malformed (an unclosed IPv6 bracket), as ``urllib.parse.urlsplit`` finds it.
    """
    return urlsplit(url).scheme in _DEFAULT_PORTS


def host_of(url: str) -> str:
    """The URL's host name in lower case without a leading ``www.``; ``""`` when it has none or is malformed."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return ""
    return host.lower().removeprefix("www.")
