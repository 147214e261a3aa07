"""The HTTP step's SSRF guard: without HTTP_STEP_ALLOWED_HOSTS, addresses that are not on the
public internet are refused after DNS resolution, with a clear message and no connection; the
connection goes to the address that was checked, with one lookup."""

import ipaddress
import socket

import pytest

from connectors import registry
from connectors.convert import convert_inputs
from connectors.errors import Permanent, Transient
from connectors.http import signing
from connectors.http.client import HttpClient
from connectors.http.guard import AddressRefused, refusal
from tests.connectors.http_receiver import receiver  # noqa: F401 (the fixture)

ACTION = registry.get_action("http.request")
KEY = "run-1-step-1"


def send(client, url: str):
    values = convert_inputs(ACTION.input_fields, {"url": url, "body": '{"a": 1}'})
    return ACTION.perform(client, values, KEY)


@pytest.fixture
def guarded(settings):
    """The client as the runner builds it, with the setting left empty (production's default)."""
    settings.HTTP_STEP_ALLOWED_HOSTS = []
    return HttpClient(None, signing.allowed_hosts())


@pytest.fixture
def fake_dns(monkeypatch):
    """Answers for made-up names, in order, counting lookups; every other name resolves as usual.

    DNS is the outside world here (like Cartly elsewhere): the guard's own code runs unchanged.
    """
    real = socket.getaddrinfo
    answers: dict[str, list[list[str]]] = {}
    lookups: dict[str, int] = {}

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in answers:
            return real(host, port, *args, **kwargs)
        lookups[host] = lookups.get(host, 0) + 1
        addresses = answers[host][min(lookups[host], len(answers[host])) - 1]
        return [
            (
                socket.AF_INET6 if ":" in a else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (a, port, 0, 0) if ":" in a else (a, port),
            )
            for a in addresses
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers, lookups


@pytest.mark.parametrize(
    "host, reason",
    [
        ("127.0.0.1", "a loopback address (this machine)"),
        ("10.0.0.1", "a private network address"),
        ("169.254.169.254", "the cloud metadata service"),
        ("localhost", "a loopback address (this machine)"),
        ("2130706433", "a loopback address (this machine)"),  # 127.0.0.1 written as a number
        ("0x7f.1", "a loopback address (this machine)"),
        ("0.0.0.0", "an unspecified address"),
    ],
)
def test_it_refuses_what_is_not_public_without_connecting(guarded, receiver, host, reason):  # noqa: F811
    with pytest.raises(AddressRefused) as caught:
        send(guarded, f"http://{host}:{receiver.port}/hook")
    assert isinstance(caught.value, Permanent)  # not a timeout: nothing was tried
    assert f"Refused to call {host}" in caught.value.message
    assert reason in caught.value.message
    assert "HTTP_STEP_ALLOWED_HOSTS" in caught.value.message
    assert receiver.connections == 0


def test_it_refuses_an_ipv6_literal_for_this_machine(guarded):
    with pytest.raises(AddressRefused, match=r"Refused to call ::1: it is a loopback address"):
        send(guarded, "http://[::1]:8080/hook")


def test_the_setting_lets_a_named_host_through(settings, receiver):  # noqa: F811
    settings.HTTP_STEP_ALLOWED_HOSTS = ["localhost"]
    client = HttpClient(None, signing.allowed_hosts())
    assert send(client, f"http://LOCALHOST:{receiver.port}/hook")["status"] == 200
    # Only the name it allows: the same machine under another name is still refused.
    with pytest.raises(AddressRefused):
        send(client, f"http://127.0.0.1:{receiver.port}/hook")
    assert receiver.connections == 1


def test_it_refuses_a_name_when_any_of_its_addresses_is_not_public(guarded, fake_dns):
    answers, _ = fake_dns
    answers["mixed.example"] = [["93.184.216.34", "10.1.2.3"]]
    with pytest.raises(AddressRefused, match=r"mixed.example \(10.1.2.3\): it is a private"):
        send(guarded, "http://mixed.example/hook")


def test_it_connects_to_the_address_it_checked_and_looks_up_once(settings, receiver, fake_dns):  # noqa: F811
    # A name whose second answer would lead elsewhere (DNS rebinding): only the first is used.
    answers, lookups = fake_dns
    answers["rebind.example"] = [["127.0.0.1"], ["10.255.255.1"]]
    settings.HTTP_STEP_ALLOWED_HOSTS = ["rebind.example"]

    answer = send(
        HttpClient(None, signing.allowed_hosts()), f"http://rebind.example:{receiver.port}/hook"
    )

    assert answer["status"] == 200
    assert lookups["rebind.example"] == 1
    assert receiver.received[0].headers["Host"] == f"rebind.example:{receiver.port}"


def test_it_says_when_a_name_does_not_exist(guarded):
    with pytest.raises(Permanent, match="There is no host named no-such-host.invalid"):
        send(guarded, "http://no-such-host.invalid/hook")


def test_it_retries_a_refused_connection(settings):
    settings.HTTP_STEP_ALLOWED_HOSTS = ["127.0.0.1"]
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # nothing listens there once this closes
    with pytest.raises(Transient, match="Could not connect to 127.0.0.1"):
        send(HttpClient(None, signing.allowed_hosts()), f"http://127.0.0.1:{port}/hook")


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.9.9.9",
        "::1",
        "0.0.0.0",
        "::",
        "10.0.0.1",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "169.254.1.1",
        "fe80::1",
        "fd00:ec2::254",
        "fc00::1",
        "100.64.0.1",
        "100.100.100.200",
        "224.0.0.1",
        "ff02::1",
        "240.0.0.1",
        "255.255.255.255",
        "192.0.2.1",
        "198.18.0.1",
        "::ffff:127.0.0.1",  # IPv4-mapped
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # Teredo of 10.0.0.1
    ],
)
def test_it_classifies_every_kind_of_address_that_is_not_public(address):
    assert refusal(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize(
    "address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"]
)
def test_it_lets_public_addresses_through(address):
    assert refusal(ipaddress.ip_address(address)) is None
