"""A DNS for tests of webhook URLs: names under example.com resolve from a table,
without the network; other names (localhost, IP literals) resolve for real."""

import socket

import pytest

PUBLIC_ADDRESS = "93.184.215.14"
ADDRESSES = {
    "hooks.example.com": [PUBLIC_ADDRESS],
    "other.example.com": [PUBLIC_ADDRESS, "2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
    "private.example.com": ["10.1.2.3"],
    "split.example.com": [PUBLIC_ADDRESS, "192.168.0.10"],
}


@pytest.fixture
def fake_dns(monkeypatch) -> dict[str, list[str]]:
    """Resolve *.example.com from a copy of ADDRESSES, which the test may extend."""
    table = {name: list(addresses) for name, addresses in ADDRESSES.items()}
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if not (isinstance(host, str) and host.endswith("example.com")):
            return real_getaddrinfo(host, port, *args, **kwargs)
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (
                socket.AF_INET6 if ":" in address else socket.AF_INET,
                socket.SOCK_STREAM,
                socket.IPPROTO_TCP,
                "",
                (address, port),
            )
            for address in table[host]
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return table
