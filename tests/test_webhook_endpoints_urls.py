"""The URL rules of webhook endpoints (webhooks/urls_policy.py, SPEC §8.3 and §13),
checked with a fake DNS (tests/fake_dns.py) and real loopback names."""

import pytest

from tests.fake_dns import PUBLIC_ADDRESS
from webhooks.urls_policy import MAX_URL_LENGTH, UrlRefused, check_url


@pytest.fixture(autouse=True)
def production_rules(settings):
    settings.WEBHOOK_ALLOW_HTTP = False
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = False


def test_a_public_https_url_passes_with_the_addresses_to_connect_to(fake_dns):
    checked = check_url("https://hooks.example.com/in?x=1")
    assert checked.addresses == (PUBLIC_ADDRESS,)
    assert (checked.scheme, checked.host, checked.port) == ("https", "hooks.example.com", 443)


def test_every_address_of_a_host_with_several_is_returned(fake_dns):
    assert len(check_url("https://other.example.com:8443/").addresses) == 2
    assert check_url("https://other.example.com:8443/").port == 8443


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://hooks.example.com/in", "https://"),
        ("ftp://hooks.example.com/in", "https://"),
        ("/relative/path", "https://"),
        ("hooks.example.com/in", "https://"),
        ("https://", "host"),
        ("https://user:pw@hooks.example.com/in", "user name"),
        ("https://user@hooks.example.com/in", "user name"),
        ("https://hooks.example.com:0/in", "port"),
        ("https://hooks.example.com:99999/in", "port"),
        ("https://hooks.example.com:abc/in", "port"),
        ("https://[::1/in", "valid URL"),
        ("https://hooks.example.com/in put", "spaces"),
        ("https://hooks.example.com/\x00", "printable"),
        ("https://hööks.example.com/", "ASCII"),
        ("https://nowhere.example.com/in", "does not resolve"),
    ],
)
def test_a_url_breaking_a_rule_is_refused_naming_url(fake_dns, url, says):
    with pytest.raises(UrlRefused, match=says) as refused:
        check_url(url)
    assert refused.value.as_dict() == {"url": [refused.value.message]}


def test_at_most_2048_characters(fake_dns):
    base = "https://hooks.example.com/"
    assert check_url(base + "a" * (MAX_URL_LENGTH - len(base)))
    with pytest.raises(UrlRefused, match="2048"):
        check_url(base + "a" * (MAX_URL_LENGTH - len(base) + 1))


def test_plain_http_only_when_allowed(fake_dns, settings):
    settings.WEBHOOK_ALLOW_HTTP = True
    assert check_url("http://hooks.example.com/in").port == 80


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",  # loopback
        "10.0.0.1",  # private
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",  # link-local (cloud metadata)
        "100.64.0.1",  # carrier-grade NAT
        "100.127.255.254",
        "224.0.0.1",  # multicast
        "240.0.0.1",  # reserved
        "0.0.0.0",  # unspecified
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",  # unique local
        "ff02::1",
        "::ffff:127.0.0.1",  # IPv4-mapped: judged as the IPv4 address it carries
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "2002:7f00:1::",  # 6to4: judged as the IPv4 address it carries (127.0.0.1)
        "2002:a00:1::1",  # 10.0.0.1
        "2002:a9fe:a9fe::",  # 169.254.169.254
        "2002:6440:1::",  # 100.64.0.1
        "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo: the client 127.0.0.1, inverted
        "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # 10.0.0.1
        "2001:0:4136:e378:8000:63bf:5601:5601",  # 169.254.169.254
    ],
)
def test_a_host_resolving_to_a_non_public_address_is_refused(fake_dns, address):
    fake_dns["inside.example.com"] = [address]
    with pytest.raises(UrlRefused, match="not a public"):
        check_url("https://inside.example.com/in")


def test_one_non_public_address_among_public_ones_is_enough_to_refuse(fake_dns):
    with pytest.raises(UrlRefused, match="192.168.0.10"):
        check_url("https://split.example.com/in")


@pytest.mark.parametrize(
    "address",
    [
        f"::ffff:{PUBLIC_ADDRESS}",
        "2002:5db8:d70e::1",  # 6to4 of 93.184.215.14
        "2001:0:4136:e378:8000:63bf:a247:28f1",  # Teredo, client 93.184.215.14
    ],
)
def test_an_address_carrying_a_public_ipv4_address_passes(fake_dns, address):
    fake_dns["carried.example.com"] = [address]
    assert check_url("https://carried.example.com/in")


@pytest.mark.parametrize(
    "url", ["https://[2002:7f00:1::]/in", "https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/in"]
)
def test_literal_6to4_and_teredo_addresses_of_loopback_are_refused(url):
    with pytest.raises(UrlRefused, match="not a public"):
        check_url(url)


@pytest.mark.parametrize(
    "url", ["https://127.0.0.1:8443/in", "https://localhost/in", "https://[::1]/in"]
)
def test_real_loopback_names_are_refused(url):
    with pytest.raises(UrlRefused, match="not a public"):
        check_url(url)


@pytest.mark.parametrize("url", ["https://127.0.0.1:8443/in", "https://localhost/in"])
def test_private_hosts_pass_when_allowed(settings, url):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    assert check_url(url).addresses


def test_allowing_private_hosts_still_needs_a_host_that_resolves(fake_dns, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    assert check_url("https://private.example.com/in").addresses == ("10.1.2.3",)
    with pytest.raises(UrlRefused, match="does not resolve"):
        check_url("https://nowhere.example.com/in")
