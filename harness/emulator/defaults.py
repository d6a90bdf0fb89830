"""The emulator's fixed, documented test credentials.

The emulator accepts these when it is started with no credentials of its own,
and the harness signs with them when it runs against the embedded emulator.
They are public test values: they authorize nothing outside this emulator.
They are still treated as secrets (never logged), like any credential.
"""

from __future__ import annotations

DEFAULT_REGION = "us-east-1"
DEFAULT_API_KEY = "da2-harnessemulatorapikey000000001"
DEFAULT_ACCESS_KEY_ID = "AKIAHARNESSEMULATOR1"
DEFAULT_SECRET_ACCESS_KEY = "harnessEmulatorSecretKey/NotAnAwsSecret0"
DEFAULT_JWT_SECRET = "harness-emulator-jwt-secret"
DEFAULT_LAMBDA_TOKEN = "harness-emulator-lambda-token"
DEFAULT_NAMESPACE = "default"
DEFAULT_IDENTITY_POOL_ID = "us-east-1:00000000-0000-4000-8000-000000000000"
