"""The identity pool's state, with a fake clock: identities, issued credentials, their
expiry as the verifier sees it, and the bounds that keep a long run's memory flat."""

from __future__ import annotations

import pytest
from support.constants import HOST, JWT_SECRET, NOW, REGION, valid_jwt

from harness.emulator.identity_pool import (
    EXPIRED_KEPT_S,
    AuthType,
    IdentityPool,
    IdentityPoolRefused,
)
from harness.errors import CredentialsExpired
from harness.signing import (
    AuthMode,
    AuthVerifier,
    CredentialSource,
    FastSigner,
    IamAuthorizer,
    IamKey,
    Operation,
    VerifierConfig,
)
from harness.signing.jwt import mint_hs256
from harness.signing.verify import EXPIRED_TOKEN, IamKeyChain

POOL = "us-east-1:00000000-0000-4000-8000-000000000000"
PROVIDER = "cognito-idp.us-east-1.amazonaws.com/us-east-1_Test"


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


def make_pool(clock: Clock, **kwargs: object) -> IdentityPool:
    return IdentityPool(POOL, jwt_secrets=(JWT_SECRET,), clock=clock, **kwargs)  # type: ignore[arg-type]


def test_each_unauthenticated_get_id_is_a_new_identity_and_a_login_keeps_its_own() -> None:
    pool = make_pool(Clock())
    guests = {pool.get_id(POOL, {}) for _ in range(3)}
    assert len(guests) == 3
    token = valid_jwt()
    member = pool.get_id(POOL, {PROVIDER: token})
    assert pool.get_id(POOL, {PROVIDER: valid_jwt(lifetime_s=60)}) == member  # same subject
    other = mint_hs256(JWT_SECRET, {"sub": "user-2", "exp": int(NOW + 60)})
    assert pool.get_id(POOL, {PROVIDER: other}) != member
    assert (pool.stats.identities, pool.stats.authenticated_identities) == (5, 2)
    issued = pool.credentials_for(member, {PROVIDER: token})
    assert issued.identity.auth_type is AuthType.AUTHENTICATED
    assert issued.identity.logins == ((PROVIDER, "user-1"),)


def test_refusals_name_the_service_error() -> None:
    pool = make_pool(Clock())
    with pytest.raises(IdentityPoolRefused) as refused:
        pool.get_id("us-east-1:1", {})
    assert refused.value.error_type == "ResourceNotFoundException"
    with pytest.raises(IdentityPoolRefused) as refused:
        pool.credentials_for("us-east-1:nobody", {})
    assert refused.value.error_type == "ResourceNotFoundException"
    guest = pool.get_id(POOL, {})
    with pytest.raises(IdentityPoolRefused) as refused:
        pool.credentials_for(guest, {PROVIDER: valid_jwt()})  # linking is not emulated
    assert refused.value.error_type == "NotAuthorizedException"
    no_logins = IdentityPool(POOL)  # started without --jwt-secret
    with pytest.raises(IdentityPoolRefused) as refused:
        no_logins.get_id(POOL, {PROVIDER: valid_jwt()})
    assert refused.value.error_type == "NotAuthorizedException"


def test_issued_credentials_pass_the_verifier_until_they_expire() -> None:
    clock = Clock()
    pool = make_pool(clock, credentials_ttl_s=60)
    issued = pool.credentials_for(pool.get_id(POOL, {}), {})
    assert issued.access_key.startswith("ASIA") and len(issued.access_key) == 20
    configured = {"AKIACONFIGURED000001": IamKey("configured-secret")}
    verifier = AuthVerifier(
        VerifierConfig(region=REGION, iam_keys=IamKeyChain((configured, pool))), clock=clock
    )
    source = CredentialSource.static(issued.access_key, issued.secret_key, issued.session_token)
    authorizer = IamAuthorizer(HOST, REGION, source, engine=FastSigner(clock))

    def verify() -> AuthMode:
        headers = authorizer.http_headers(b"{}")
        return verifier.verify(headers, (AuthMode.AWS_IAM,), Operation.HTTP_PUBLISH, (b"{}",))

    clock.now = NOW + 59
    assert verify() is AuthMode.AWS_IAM
    clock.now = NOW + 60
    with pytest.raises(CredentialsExpired) as expired:
        verify()
    assert expired.value.error_type == "UnauthorizedException"
    assert expired.value.wire_message == EXPIRED_TOKEN
    assert pool.identity_of(issued.access_key) == issued.identity
    assert configured["AKIACONFIGURED000001"] == verifier.config.iam_keys.get(
        "AKIACONFIGURED000001"
    )


def test_expired_credentials_are_forgotten_after_a_while() -> None:
    clock = Clock()
    pool = make_pool(clock, credentials_ttl_s=10)
    identity = pool.get_id(POOL, {})
    old = pool.credentials_for(identity, {})
    clock.now += 10 + EXPIRED_KEPT_S - 1
    pool.credentials_for(identity, {})
    assert pool.get(old.access_key) is not None  # expired, still known as expired
    clock.now += 1
    pool.credentials_for(identity, {})
    assert pool.get(old.access_key) is None
    assert pool.to_json()["credentials_kept"] == 2


def test_the_pool_keeps_at_most_its_bounds_dropping_the_oldest() -> None:
    pool = make_pool(Clock(), max_identities=3, max_credentials=4)
    members = [
        pool.get_id(POOL, {PROVIDER: mint_hs256(JWT_SECRET, {"sub": f"u{n}", "exp": NOW + 60})})
        for n in range(5)
    ]
    assert pool.to_json()["identities_kept"] == 3
    with pytest.raises(IdentityPoolRefused):
        pool.credentials_for(members[0], {})  # dropped: not found
    survivor = members[-1]
    token = mint_hs256(JWT_SECRET, {"sub": "u4", "exp": NOW + 60})
    keys = [pool.credentials_for(survivor, {PROVIDER: token}).access_key for _ in range(6)]
    assert [pool.get(key) is not None for key in keys] == [False, False, True, True, True, True]
    # A dropped identity's login makes a new identity.
    first = mint_hs256(JWT_SECRET, {"sub": "u0", "exp": NOW + 60})
    assert pool.get_id(POOL, {PROVIDER: first}) != members[0]
    assert pool.stats.identities == 6
