"""Throw-away certificates for TLS tests: a CA, a server certificate for 127.0.0.1,
and a client certificate, written as PEM files.
"""

from __future__ import annotations

from pathlib import Path

import attrs
import trustme


@attrs.frozen
class Certificates:
    ca_file: str
    server_cert: str
    server_key: str
    client_cert: str
    client_key: str
    client_combined: str
    stranger_ca_file: str


def make_certificates(folder: Path) -> Certificates:
    ca = trustme.CA()
    stranger = trustme.CA()
    server = ca.issue_cert("127.0.0.1")
    client = ca.issue_cert("kepler-reader-client.example")
    paths = {
        name: str(folder / f"{name}.pem")
        for name in (
            "ca",
            "server_cert",
            "server_key",
            "client_cert",
            "client_key",
            "client_combined",
            "stranger",
        )
    }
    ca.cert_pem.write_to_path(paths["ca"])
    stranger.cert_pem.write_to_path(paths["stranger"])
    server.cert_chain_pems[0].write_to_path(paths["server_cert"])
    server.private_key_pem.write_to_path(paths["server_key"])
    client.cert_chain_pems[0].write_to_path(paths["client_cert"])
    client.private_key_pem.write_to_path(paths["client_key"])
    client.private_key_and_cert_chain_pem.write_to_path(paths["client_combined"])
    return Certificates(
        ca_file=paths["ca"],
        server_cert=paths["server_cert"],
        server_key=paths["server_key"],
        client_cert=paths["client_cert"],
        client_key=paths["client_key"],
        client_combined=paths["client_combined"],
        stranger_ca_file=paths["stranger"],
    )
