"""Authorization for AppSync Events: the client's side and the emulator's.

- :mod:`~harness.signing.wire`: auth modes, signed bodies, the ``header-``
  subprotocol, redaction.
- :mod:`~harness.signing.sigv4`: SigV4 math and the botocore / fast engines.
- :mod:`~harness.signing.credentials`: botocore's credential chain, refreshing.
- :mod:`~harness.signing.identity_pool`: per-user credentials from a Cognito identity pool.
- :mod:`~harness.signing.authorizers`: what a client sends, per mode.
- :mod:`~harness.signing.jwt`: HS256 tokens for the emulator's JWT modes.
- :mod:`~harness.signing.verify`: what the emulator accepts.

All pure functions and small objects; nothing here does I/O except botocore's
credential chain reading its own sources, and an identity pool's calls.
"""

from harness.signing.authorizers import (
    ApiKeyAuthorizer,
    Authorizer,
    IamAuthorizer,
    PerOperationAuthorizer,
    TokenAuthorizer,
    make_authorizer,
)
from harness.signing.credentials import Credentials, CredentialSource
from harness.signing.sigv4 import BotocoreSigner, FastSigner
from harness.signing.verify import AuthVerifier, IamKey, IamKeyChain, IamKeyLookup, VerifierConfig
from harness.signing.wire import (
    AuthMode,
    Operation,
    candidate_bodies,
    decode_subprotocol,
    encode_subprotocol,
    redact,
    signing_body,
)

__all__ = [
    "ApiKeyAuthorizer",
    "AuthMode",
    "AuthVerifier",
    "Authorizer",
    "BotocoreSigner",
    "CredentialSource",
    "Credentials",
    "FastSigner",
    "IamAuthorizer",
    "IamKey",
    "IamKeyChain",
    "IamKeyLookup",
    "Operation",
    "PerOperationAuthorizer",
    "TokenAuthorizer",
    "VerifierConfig",
    "candidate_bodies",
    "decode_subprotocol",
    "encode_subprotocol",
    "make_authorizer",
    "redact",
    "signing_body",
]
