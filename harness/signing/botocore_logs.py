"""Keep credentials out of botocore's DEBUG lines.

At DEBUG (``locust --loglevel DEBUG`` sets the root logger there) botocore logs the
bodies of its requests and answers, which for Cognito Identity hold login tokens,
secret keys and session tokens. A filter on the two loggers that echo bodies replaces
those values with ``<redacted>``; it runs only for records logged at all.
"""

from __future__ import annotations

import logging
import re

BODY_LOGGERS = ("botocore.endpoint", "botocore.parsers")
_SECRET_VALUES = (
    re.compile(r'("(?:SecretKey|SecretAccessKey|SessionToken)"\s*:\s*")[^"]*(")'),
    re.compile(r"(<(SecretAccessKey|SessionToken)>)[^<]*(</\2>)"),
)
_LOGINS = re.compile(r'("Logins"\s*:\s*)\{[^}]*\}')


class RedactCredentials(logging.Filter):
    """Rewrites a record whose text holds a credential; never drops one."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _LOGINS.sub(r'\1{"<redacted>": "<redacted>"}', message)
        redacted = _SECRET_VALUES[0].sub(r"\1<redacted>\2", redacted)
        redacted = _SECRET_VALUES[1].sub(r"\1<redacted>\3", redacted)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


_FILTER = RedactCredentials()


def redact_botocore_bodies() -> None:
    """Install the filter on botocore's body loggers (once; calling again adds nothing)."""
    for name in BODY_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
