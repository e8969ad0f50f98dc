"""MISP warninglists: the published lists, matched the way MISP matches them, and the policy."""

from __future__ import annotations

import functools
import ipaddress
import json
import random

import pytest
from pymispwarninglists.api import WarningList

from threatstream.compat import AirflowFailException
from threatstream.rules import warninglists
from threatstream.rules.warninglists import (
    DEFAULT_WARNINGLISTS,
    WarninglistConfigError,
    Warninglists,
    available,
    configured,
    load,
    parse_policy,
    parse_selection,
)
from threatstream.settings import SettingsError


@pytest.fixture(scope="module")
def default_lists() -> Warninglists:
    return load(DEFAULT_WARNINGLISTS)


def test_every_default_list_is_published_in_the_installed_package() -> None:
    assert set(DEFAULT_WARNINGLISTS) <= set(available())
    assert len(available()) > 100  # the package's whole catalogue, not a copied subset


@pytest.mark.parametrize(
    ("indicator_type", "value", "lists"),
    [
        ("IPv4", "8.8.8.8", ("public-dns-v4",)),
        ("IPv4", "1.1.1.1", ("public-dns-v4",)),
        ("IPv6", "2001:4860:4860::8888", ("public-dns-v6",)),
        ("domain", "google.com", ("cisco_top1000", "google")),
        ("domain", "microsoft.com", ("cisco_top1000", "microsoft")),
        ("hostname", "checkip.dyndns.org", ("whats-my-ip",)),
        ("URL", "http://checkip.dyndns.org/", ("whats-my-ip",)),
        ("URL", "https://user@api.ipify.org:8443/?format=json", ("whats-my-ip",)),
        ("FileHash-MD5", "d41d8cd98f00b204e9800998ecf8427e", None),  # the empty file
        # sha256("foo\n"), a test value IOC lists pick up by mistake (in the OTX fixture too)
        (
            "FileHash-SHA256",
            "b5bb9d8014a0f9b1d61e21e796d78dccdf1352f23cd32812f4850b878ae4944c",
            ("common-ioc-false-positive", "ti-falsepositives"),
        ),
        ("CIDR", "224.0.0.0/7", ("multicast",)),  # spans two listed /8 blocks
        ("domain", "example.com", ("rfc6761",)),
        ("domain", "com", ("tlds",)),  # the list spells TLDs in upper case
    ],
)
def test_benign_values_are_on_default_lists(
    default_lists: Warninglists, indicator_type: str, value: str, lists: tuple[str, ...] | None
) -> None:
    hits = default_lists.check(indicator_type, value)
    if lists is None:
        assert "empty-hashes" in hits
    else:
        assert hits == lists


@pytest.mark.parametrize(
    ("indicator_type", "value"),
    [
        ("IPv4", "8.8.8.9"),  # next to the listed 8.8.8.8
        ("IPv4", "223.255.255.255"),  # just below the multicast block 224.0.0.0/4
        ("IPv6", "2001:4860:4860::8889"),
        ("CIDR", "223.255.255.0/24"),
        ("CIDR", "8.8.8.0/24"),  # holds listed addresses but is not within a listed range
        ("hostname", "update-check.microsoft.com"),  # microsoft.com is listed as an exact name only
        ("hostname", "notipify.org"),  # ends with the listed ipify.org, not at a label boundary
        ("hostname", "api.ipify.org.evil.example"),
        ("URL", "https://update-check.microsoft.com.kb-patch.example/KB5034441.exe"),
        ("URL", "http://notipify.org/gate/ip.php"),
        ("domain", "google.com.evil.example"),
        ("FileHash-SHA256", "8849a3273e0362c45b4928375d196714224ec22cb1d2df5d029bf57349860347"),
        ("CVE", "CVE-2023-4966"),  # no list applies to the type
    ],
)
def test_near_misses_are_not_flagged(default_lists: Warninglists, indicator_type: str, value: str) -> None:
    assert default_lists.check(indicator_type, value) == ()


def test_a_list_applies_to_the_types_its_matching_attributes_name(default_lists: Warninglists) -> None:
    # tlds names hostname and domain, not url: a URL is never compared with it.
    assert default_lists.check("URL", "com") == ()
    assert not default_lists.applicable("CVE")
    assert default_lists.applicable("IPv4")


def test_hostname_lists_match_a_host_and_its_subdomains_label_by_label() -> None:
    lists = load(["public-dns-hostname"])
    assert lists.check("hostname", "dns.google") == ("public-dns-hostname",)
    assert lists.check("hostname", "a.b.dns.google") == ("public-dns-hostname",)
    assert lists.check("URL", "https://x.dns.google/dns-query") == ("public-dns-hostname",)
    assert lists.check("hostname", "evildns.google") == ()


@functools.cache
def _published(slug: str) -> WarningList:
    return WarningList(json.loads(available()[slug].read_text(encoding="utf-8")), slow_search=True)


@pytest.mark.parametrize("slug", ["public-dns-v4", "multicast", "public-dns-v6"])
def test_address_matching_agrees_with_pymispwarninglists(slug: str) -> None:
    published = _published(slug)
    ours = load([slug])
    rng = random.Random(20)
    entries = [entry.partition("/")[0] for entry in published.list]
    samples = rng.sample(entries, min(200, len(entries)))
    if ":" in samples[0]:
        samples += [f"2001:db9::{rng.randrange(1 << 16):x}" for _ in range(100)]
        kind = "IPv6"
    else:
        samples += [".".join(str(rng.randrange(1, 224)) for _ in range(4)) for _ in range(300)]
        kind = "IPv4"
    for value in samples:
        assert (slug in ours.check(kind, value)) == (value in published), value


@pytest.mark.parametrize("slug", ["public-dns-v4", "public-dns-v6", "multicast", "rfc1918", "vpn-ipv4"])
def test_every_range_matches_from_its_first_to_its_last_address_and_no_further(slug: str) -> None:
    # Narrow ranges are looked up by their addresses' text, wide ones (and those past the
    # budget: vpn-ipv4 holds 4 million addresses) by number: both ends of the ranges, and the
    # addresses just outside, agree with the published list.
    published = _published(slug)
    ours = load([slug])
    networks = [ipaddress.ip_network(entry, strict=False) for entry in published.list]
    rng = random.Random(slug)
    wide = [network for network in networks if network.num_addresses > 1]
    wide = rng.sample(wide, min(len(wide), 2_000))
    narrow = rng.sample(networks, min(len(networks), 2_000))  # 62,000 in public-dns-v4
    for network in wide + narrow:
        kind = "IPv4" if network.version == 4 else "IPv6"
        first, last = int(network.network_address), int(network.broadcast_address)
        for number in {first - 1, first, last, last + 1}:
            if not 0 <= number < 1 << network.max_prefixlen:
                continue
            value = ipaddress.ip_address(number).compressed
            assert (slug in ours.check(kind, value)) == (value in published), value


def test_a_list_of_millions_of_addresses_loads_within_a_bounded_memory() -> None:
    import tracemalloc

    load(["vpn-ipv4"])  # parsed JSON and imports, outside the measurement
    tracemalloc.start()
    try:
        lists = load(["vpn-ipv4"])  # 40,817 ranges holding 4 million addresses
        kept = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert kept < 32 << 20  # spelled out, the 4 million addresses would take some 400 MB
    entries = _published("vpn-ipv4").list
    first, widest = entries[0], max(entries, key=lambda entry: ipaddress.ip_network(entry).num_addresses)
    for entry in (first, widest):
        assert lists.check("IPv4", str(ipaddress.ip_network(entry).network_address)) == ("vpn-ipv4",)


@pytest.mark.parametrize(
    ("indicator_type", "value", "listed"),
    [
        ("hostname", "home.barclays", True),  # under the list's one-label entry ".barclays"
        ("hostname", "barclays", False),  # a leading dot: the names under it, not the name itself
        ("URL", "https://secure.home.barclays/login", True),
        ("hostname", "barclays.evil.example", False),
        ("hostname", "notbarclays", False),
    ],
)
def test_a_one_label_hostname_entry_covers_every_name_under_it(
    indicator_type: str, value: str, listed: bool
) -> None:
    lists = load(["bank-website"])
    assert ("bank-website" in lists.check(indicator_type, value)) is listed
    assert (value in _published("bank-website")) is listed  # as pymispwarninglists says


def test_every_hostname_list_matches_as_pymispwarninglists_does() -> None:
    lists = {slug: warninglists._read(slug) for slug in available()}
    # tranco (a million names) only makes the comparison slow: the same code matches it.
    slugs = [
        slug for slug, data in lists.items() if data.get("type") == "hostname" and len(data["list"]) < 10**5
    ]
    assert len(slugs) > 15
    rng = random.Random(6761)
    for slug in slugs:
        published, ours = _published(slug), load([slug])
        # pymispwarninglists compares as written; host names are compared as DNS does (any
        # case, no trailing dot), so an entry such as "0526EE93.dsl.pool.telekom.hu" or
        # "verify-contact-details.namecheap.com." is checked apart, below.
        entries = [e for e in published.list if e == e.strip().lower() and not e.endswith(".")]
        for entry in rng.sample(entries, min(15, len(entries))):
            name = entry.lstrip(".")
            for value in (name, f"www.{name}", f"x{name}", f"{name}.example"):
                assert (slug in ours.check("hostname", value)) == (value in published), (slug, value)
    dns = load(["public-dns-hostname", "parking-domain-ns"])
    assert dns.check("hostname", "0526ee93.dsl.pool.telekom.hu") == ("public-dns-hostname",)
    assert dns.check("hostname", "verify-contact-details.namecheap.com") == ("parking-domain-ns",)


def test_hostname_matching_agrees_with_pymispwarninglists() -> None:
    published = _published("whats-my-ip")
    ours = load(["whats-my-ip"])
    for value in [
        "api.ipify.org",
        "x.ipinfo.io",
        "ipinfo.io",
        "notipinfo.io",
        "ipinfo.io.example",
        "myip.com",
    ]:
        assert (ours.check("hostname", value) != ()) == (value in published), value


def test_substring_and_regex_lists_are_scanned_only_when_configured() -> None:
    lists = load(["automated-malware-analysis", "common-contact-emails"])
    assert lists.check("hostname", "app.any.run") == ("automated-malware-analysis",)
    assert lists.check("email", "abuse@example.org") == ("common-contact-emails",)
    assert lists.check("email", "ABUSE@example.org") == ("common-contact-emails",)  # /i
    assert lists.check("email", "billing@account-verify.example") == ()


def test_selection_defaults_extends_and_disables() -> None:
    assert parse_selection("") == DEFAULT_WARNINGLISTS
    assert parse_selection(None) == DEFAULT_WARNINGLISTS
    assert parse_selection("none") == ()
    assert parse_selection(" NONE ") == ()
    assert parse_selection("default, sinkholes") == (*DEFAULT_WARNINGLISTS, "sinkholes")
    assert parse_selection("rfc1918,rfc1918") == ("rfc1918",)


def test_an_unknown_list_name_fails_at_once_with_a_clear_error() -> None:
    with pytest.raises(
        WarninglistConfigError, match=r"no warninglist named 'public-dns-v5'.*did you mean"
    ) as err:
        parse_selection("default,public-dns-v5")
    assert isinstance(err.value, AirflowFailException)  # no retry: the setting must be fixed
    assert isinstance(err.value, SettingsError)
    with pytest.raises(WarninglistConfigError, match="warninglist_policy: no warninglist named 'nope'"):
        parse_policy({"nope": "flag"})


def test_policy_per_category_with_list_overrides() -> None:
    assert parse_policy("") == {"false_positive": "flag", "known": "flag"}
    policy = parse_policy('{"false-positive": "quarantine", "public-dns-v4": "flag"}')
    lists = load(["public-dns-v4", "whats-my-ip"], policy)
    assert lists.actions == {"public-dns-v4": "flag", "whats-my-ip": "quarantine"}
    assert lists.quarantining(("public-dns-v4", "whats-my-ip")) == ("whats-my-ip",)
    with pytest.raises(WarninglistConfigError, match="must be flag or quarantine"):
        parse_policy({"known": "drop"})
    with pytest.raises(WarninglistConfigError, match="must be a JSON object"):
        parse_policy("[1]")
    with pytest.raises(WarninglistConfigError, match="is not JSON"):
        parse_policy("{flag}")


def test_every_bundled_list_declares_a_known_category() -> None:
    lists = load(DEFAULT_WARNINGLISTS)
    assert {info.category for info in lists.info.values()} <= set(warninglists.CATEGORIES)


def test_configured_reads_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__THREATSTREAM__WARNINGLISTS", "rfc1918,public-dns-v4")
    monkeypatch.setenv("AIRFLOW__THREATSTREAM__WARNINGLIST_POLICY", '{"known": "quarantine"}')
    lists = configured()
    assert lists.names == ("rfc1918", "public-dns-v4")
    assert lists is configured()  # loaded once per process
    monkeypatch.setenv("AIRFLOW__THREATSTREAM__WARNINGLISTS", "rfc1918,public-dns")
    with pytest.raises(WarninglistConfigError, match="did you mean"):
        configured()


def test_overlapping_ranges_of_several_lists_are_cut_into_segments_that_name_each_list() -> None:
    slugs = ["rfc1918", "rfc5735", "multicast", "rfc6598"]
    ours = load(slugs)
    published = {slug: _published(slug) for slug in slugs}
    rng = random.Random(5735)
    samples = ["10.0.0.0", "10.255.255.255", "11.0.0.0", "172.31.255.255", "172.32.0.0", "100.127.255.255"]
    samples += [
        f"{rng.choice([10, 100, 127, 169, 172, 192, 224, 239, 240])}.{rng.randrange(256)}.0.1"
        for _ in range(300)
    ]
    for value in samples:
        expected = tuple(sorted(slug for slug, wl in published.items() if value in wl))
        assert ours.check("IPv4", value) == expected, value
    assert ours.check("CIDR", "10.0.0.0/8") == ("rfc1918", "rfc5735")
    assert ours.check("CIDR", "10.0.0.0/7") == ()
