"""Files of credentials, one per line (``--api-key-file``, ``--auth-token-file``)."""

from __future__ import annotations

from pathlib import Path

from harness.errors import ConfigurationError


def secret_lines(path: str, option: str) -> list[str]:
    """The non-empty lines of ``path``, stripped (blank lines and ``#`` comments are
    skipped). Errors name ``option`` and the file, never a line: each is a secret."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(option, f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigurationError(option, f"{path} is not UTF-8 text") from None
    lines = [line.strip() for line in text.splitlines()]
    kept = [line for line in lines if line and not line.startswith("#")]
    if not kept:
        raise ConfigurationError(option, f"{path} holds no credential (one per line)")
    return kept
