"""A throwaway certificate authority and server certificate for ``--tls``.

Real AppSync clients insist on ``wss://``; the emulator generates, at start, a
CA and a certificate for 127.0.0.1 and localhost signed by it, and writes the
CA certificate to a file that clients trust (``--ca-file``,
``NODE_EXTRA_CA_CERTS``, ``ssl.create_default_context(cafile=...)``).
"""

from __future__ import annotations

import ssl
from pathlib import Path

import trustme


def server_context(ca_cert_path: Path, hosts: tuple[str, ...]) -> ssl.SSLContext:
    """Generate a CA and a server certificate for ``hosts``; write the CA to
    ``ca_cert_path`` and return the server's TLS context (TLS 1.2 and 1.3, as
    AppSync custom domains accept)."""
    authority = trustme.CA(organization_name="appsync-events-harness emulator")
    certificate = authority.issue_cert(*hosts)
    authority.cert_pem.write_to_path(str(ca_cert_path))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    certificate.configure_cert(context)
    return context
