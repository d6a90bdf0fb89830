"""Constants and helpers shared by the tests: fixed test credentials and a frozen botocore clock."""

import contextlib
import datetime
from collections.abc import Iterator
from unittest import mock

from harness.signing import AuthMode
from harness.signing.jwt import mint_hs256

HOST = "example1234567890000.appsync-api.us-east-1.amazonaws.com"
REGION = "us-east-1"
ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TEMP_ACCESS_KEY = "ASIATEMPEXAMPLE00001"
TEMP_SECRET_KEY = "tempSecretKeyExample/0123456789abcdefghij"
SESSION_TOKEN = "IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKENvalue+/="
API_KEY = "da2-12345678901234567890123456"
JWT_SECRET = "jwt-signing-secret-for-tests"
LAMBDA_TOKEN = "lambda-token-custom-authorizer-example"
NOW = 1731346453.0  # 2024-11-11T17:34:13Z, the instant of amplify-js#14001

ALL_MODES = tuple(AuthMode)


def valid_jwt(now: float = NOW, lifetime_s: float = 3600) -> str:
    return mint_hs256(JWT_SECRET, {"sub": "user-1", "exp": int(now + lifetime_s)})


SECRETS = (SECRET_KEY, TEMP_SECRET_KEY, SESSION_TOKEN, API_KEY, JWT_SECRET, LAMBDA_TOKEN)


@contextlib.contextmanager
def botocore_clock(epoch_seconds: float) -> Iterator[None]:
    """Freeze the clock botocore's SigV4Auth reads (naive UTC, as botocore returns it)."""
    instant = datetime.datetime.fromtimestamp(epoch_seconds, datetime.UTC).replace(tzinfo=None)
    with mock.patch("botocore.auth.get_current_datetime", return_value=instant):
        yield
