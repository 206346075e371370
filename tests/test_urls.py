"""index.urls: canonical URLs for identity and duplicate detection."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from index.urls import canonical_url, host_of, is_web_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param("HTTPS://News.Example.COM/a", "https://news.example.com/a", id="case"),
        pytest.param("http://example.com:80/a", "http://example.com/a", id="default-port"),
        pytest.param("https://example.com:8443/a", "https://example.com:8443/a", id="other-port"),
        pytest.param("https://example.com", "https://example.com/", id="empty-path"),
        pytest.param("https://example.com/a#section-2", "https://example.com/a", id="fragment"),
        pytest.param(
            "https://example.com/a?utm_source=x&utm_medium=y&utm_campaign=z&utm_term=t&utm_content=c",
            "https://example.com/a",
            id="utm",
        ),
        pytest.param(
            "https://example.com/a?fbclid=1&gclid=2&msclkid=3&mc_cid=4&mc_eid=5&_ga=6&igshid=7",
            "https://example.com/a",
            id="click-ids",
        ),
        pytest.param(
            "https://example.com/a?id=5&utm_source=x&page=2&q=a%20b",
            "https://example.com/a?id=5&page=2&q=a%20b",
            id="keeps-order-and-encoding",
        ),
        pytest.param("https://example.com/a?source=1&ref=2", "https://example.com/a?source=1&ref=2", id="kept-names"),
        pytest.param("https://[2001:DB8::1]:443/a", "https://[2001:db8::1]/a", id="ipv6"),
        pytest.param("  https://example.com/a  ", "https://example.com/a", id="spaces"),
        pytest.param("tag:example.com,2024:1", "tag:example.com,2024:1", id="not-http"),
        pytest.param("https://example.com:notaport/a", "https://example.com:notaport/a", id="bad-port"),
    ],
)
def test_canonical_url(url, expected):
    assert canonical_url(url) == expected


_URL_PART = st.text(alphabet="abcXYZ019-._~%/", max_size=12)


@given(
    scheme=st.sampled_from(["http", "HTTPS", "tag"]),
    host=st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,8}(\.[A-Za-z]{2,4}){1,2}", fullmatch=True),
    port=st.sampled_from(["", ":80", ":443", ":8080"]),
    path=_URL_PART,
    params=st.lists(st.tuples(st.sampled_from(["id", "utm_source", "fbclid", "page", "q", "Gclid"]), _URL_PART)),
    fragment=_URL_PART,
)
def test_canonical_url_is_idempotent_and_drops_tracking(scheme, host, port, path, params, fragment):
    query = "&".join(f"{name}={value}" for name, value in params)
    url = f"{scheme}://{host}{port}/{path}?{query}#{fragment}"
    once = canonical_url(url)
    assert canonical_url(once) == once
    if scheme != "tag":
        assert "utm_source=" not in once
        assert "fbclid=" not in once
        assert "#" not in once


@pytest.mark.parametrize(
    ("url", "web", "host"),
    [
        pytest.param("https://www.Harbour.test/a", True, "harbour.test", id="https"),
        pytest.param("HTTP://news.test:8080/", True, "news.test", id="http-port"),
        pytest.param("ftp://harbour.test/a", False, "harbour.test", id="ftp"),
        pytest.param("/relative/path", False, "", id="relative"),
    ],
)
def test_web_urls_and_their_hosts(url, web, host):
    assert is_web_url(url) is web
    assert host_of(url) == host


def test_a_malformed_url_has_no_host():
    assert host_of("http://[::1/a") == ""
    with pytest.raises(ValueError, match="IPv6"):
        is_web_url("http://[::1/a")
