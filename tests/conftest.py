"""Shared test fixtures.

``locust`` is imported first: it monkey-patches the standard library with
gevent, and doing that after something imported ``ssl`` (botocore does) fails
with a RecursionError. Later test modules run Locust environments.
"""

import locust  # noqa: F401, I001  (must come before botocore / ssl; see above)

from collections.abc import Callable, Iterator

import pytest
from support.client import TemporaryIam
from support.emulator import LiveEmulator
from support.timing import FACTOR
from support.constants import (
    ACCESS_KEY,
    API_KEY,
    HOST,
    JWT_SECRET,
    LAMBDA_TOKEN,
    NOW,
    REGION,
    SECRET_KEY,
    SESSION_TOKEN,
    TEMP_ACCESS_KEY,
    TEMP_SECRET_KEY,
)

from harness.emulator.process import EmulatorProcess
from harness.signing import AuthVerifier, CredentialSource, IamKey, VerifierConfig


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Stretch pytest-timeout's limits by the timing factor (support/timing.py)."""
    if FACTOR == 1:
        return
    for item in items:
        marker = item.get_closest_marker("timeout")
        seconds = marker.args[0] if marker and marker.args else item.config.getini("timeout")
        item.add_marker(pytest.mark.timeout(float(seconds) * FACTOR), append=False)


@pytest.fixture
def verifier_config() -> VerifierConfig:
    return VerifierConfig(
        region=REGION,
        api_keys=frozenset({API_KEY}),
        iam_keys={
            ACCESS_KEY: IamKey(SECRET_KEY),
            TEMP_ACCESS_KEY: IamKey(TEMP_SECRET_KEY, SESSION_TOKEN),
        },
        jwt_secrets=(JWT_SECRET,),
        lambda_tokens=frozenset({LAMBDA_TOKEN}),
        hosts=frozenset({HOST}),
    )


@pytest.fixture
def verifier(verifier_config: VerifierConfig) -> AuthVerifier:
    return AuthVerifier(verifier_config, clock=lambda: NOW + 5)


@pytest.fixture
def long_term_credentials() -> CredentialSource:
    return CredentialSource.static(ACCESS_KEY, SECRET_KEY)


@pytest.fixture
def temporary_credentials() -> CredentialSource:
    return CredentialSource.static(TEMP_ACCESS_KEY, TEMP_SECRET_KEY, SESSION_TOKEN)


# -- a live emulator --------------------------------------------------------------

TEST_EMULATOR_ARGS = ("--seed", "1234", "--log-level", "WARNING")


@pytest.fixture(scope="session")
def emulator() -> Iterator[LiveEmulator]:
    """One emulator process shared by the tests that need no special settings
    (default credentials, namespace ``default``). Tests must not leave faults in it."""
    process = EmulatorProcess.start(
        [
            *TEST_EMULATOR_ARGS,
            "--namespace",
            "default",
            "--namespace",
            "iamonly:publish=AWS_IAM:subscribe=AWS_IAM",
        ]
    )
    live = LiveEmulator(process)
    yield live
    assert process.stop() == 0, process.stderr_text()


@pytest.fixture
def start_emulator() -> Iterator[Callable[..., LiveEmulator]]:
    """Start emulators with their own arguments; each is stopped (and must exit 0)
    at the end of the test."""
    started: list[EmulatorProcess] = []

    def start(*arguments: str) -> LiveEmulator:
        process = EmulatorProcess.start([*TEST_EMULATOR_ARGS, *arguments])
        started.append(process)
        return LiveEmulator(process)

    yield start
    for process in started:
        assert process.stop() == 0, process.stderr_text()


@pytest.fixture
def temporary_iam(start_emulator: Callable[..., LiveEmulator]) -> TemporaryIam:
    """An emulator of its own that knows only ``client_support``'s temporary credentials,
    with authorizers signing with the right and with a wrong secret."""
    return TemporaryIam.start(start_emulator)
