"""One namespace's handler file in its own JavaScript engine (QuickJS, from PyPI's
``quickjs``), called with a time and a memory limit.

A handler file is an ES module as AppSync takes it: ``export function onPublish(ctx)``,
``export const onSubscribe = (ctx) => ...``, and ``import { util } from
'@aws-appsync/utils'``. QuickJS's Python binding has no module loader, so the file is
rewritten as a script before it is evaluated: imports of ``@aws-appsync/utils`` become
blank lines (``util`` and ``runtime`` are globals here, from ``prelude.js``) and
``export`` keywords are dropped, so every line keeps its number for error messages.

Why QuickJS (docs/emulator.md#handlers): a call costs about 1.5 µs against about
250 µs through ``mini-racer`` (embedded V8), whose calls cross threads, and it loads
in 18 ms rather than 62 ms; APPSYNC_JS is an ES6 subset, which QuickJS's ES2020 covers.
The module is imported only when a handler file is configured.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from harness.errors import ConfigurationError

MAX_CODE_CHARS = 32_768
"""AppSync's limit on a namespace's handler code (``codeHandlers``, API reference)."""
MEMORY_LIMIT_BYTES = 64 * 1024 * 1024
HANDLER_NAMES = ("onPublish", "onSubscribe")
_UTILS_IMPORT = re.compile(
    r"^[ \t]*import\s+[^;]*?\s+from\s+['\"]@aws-appsync/utils['\"][ \t]*;?", re.MULTILINE
)
_OTHER_IMPORT = re.compile(r"^[ \t]*import\s[^;]*?from\s+['\"]([^'\"]+)['\"]", re.MULTILINE)
_EXPORT = re.compile(r"^([ \t]*)export\s+(?=(?:async\s+)?function\b|const\b|let\b|var\b)", re.M)
_FRAME = re.compile(r"at (\S+) \(<input>:(\d+)\)|at <input>:(\d+)")
_DEFINED = ", ".join(
    f'{name}: typeof {name} === "undefined" ? undefined : {name}' for name in HANDLER_NAMES
)
_REGISTER = f"globalThis.__handlers = {{{_DEFINED}}};"


class HandlerCrash(Exception):
    """A handler threw, returned something AppSync cannot use, or ran out of time or
    memory. ``str()`` names the file and, when known, the line."""

    def __init__(self, text: str, *, timed_out: bool = False) -> None:
        super().__init__(text)
        self.timed_out = timed_out


@dataclass(frozen=True, slots=True)
class HandlerAnswer:
    """What one invocation returned: ``result`` (onPublish's events, shaped by
    ``prelude.js``), or a ``signal`` (``error`` or ``unauthorized``) with its text."""

    result: list[dict[str, Any]] | None
    signal: str | None
    message: str | None
    error_type: str | None
    log: list[list[str]]


def script_of(source: str, path: str) -> str:
    """The handler module as a script with the same line numbers (see the module doc)."""
    if len(source) > MAX_CODE_CHARS:
        raise ConfigurationError(
            "--handlers",
            f"{path} has {len(source):,} characters; AppSync takes at most {MAX_CODE_CHARS:,}",
        )
    script = _UTILS_IMPORT.sub(lambda match: "\n" * match.group(0).count("\n"), source)
    other = _OTHER_IMPORT.search(script)
    if other is not None:
        line = script.count("\n", 0, other.start()) + 1
        raise ConfigurationError(
            "--handlers",
            f"{path}:{line}: imports {other.group(1)!r}; the emulator runs handlers without "
            "data sources, so only '@aws-appsync/utils' can be imported",
        )
    return _EXPORT.sub(r"\1", script)


class HandlerEngine:
    """One handler file, evaluated in its own QuickJS context."""

    def __init__(self, path: Path, time_limit_s: float) -> None:
        self.path = path
        self._time_limit_s = time_limit_s
        try:
            source = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigurationError("--handlers", f"cannot read {path}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise ConfigurationError("--handlers", f"{path} is not UTF-8 text") from None
        self._script = script_of(source, str(path))
        self._context = self._fresh_context()
        kinds = {name: self._context.eval(f"typeof __handlers.{name}") for name in HANDLER_NAMES}
        self.defined = frozenset(name for name, kind in kinds.items() if kind != "undefined")
        for name in self.defined:
            kind = kinds[name]
            if kind != "function":
                raise ConfigurationError(
                    "--handlers",
                    f"{path}: {name} is {'an' if kind == 'object' else 'a'} {kind}; the "
                    "emulator runs handlers without data sources, which are functions",
                )

    def _fresh_context(self) -> Any:
        import quickjs  # only when a handler is configured: it is not needed otherwise

        self._quickjs = quickjs  # for its exception types, on every invocation
        context = quickjs.Context()
        context.set_memory_limit(MEMORY_LIMIT_BYTES)
        context.eval(resources.files(__package__).joinpath("prelude.js").read_text("utf-8"))
        try:
            context.eval(self._script)
            context.eval(_REGISTER)
        except quickjs.JSException as exc:
            raise ConfigurationError("--handlers", self._located(str(exc))) from None
        self._invoke = context.get("__invoke")
        context.set_time_limit(self._time_limit_s)
        return context

    def invoke(self, name: str, context_json: str) -> HandlerAnswer:
        """Call handler ``name`` (one of :attr:`defined`) with the context's JSON text."""
        quickjs = self._quickjs
        try:
            answer = json.loads(self._invoke(name, context_json))
        except quickjs.JSException as exc:
            text = str(exc)
            timed_out = text.startswith("InternalError: interrupted")
            if timed_out or text.startswith("InternalError: out of memory"):
                self._context = self._fresh_context()  # what it left behind is not trusted
            if timed_out:  # keep the stack: it names the line that was running
                text = (
                    f"{name} ran longer than {self._time_limit_s * 1000:g} ms"
                    + text[text.find("\n") :]
                )
            raise HandlerCrash(self._located(text), timed_out=timed_out) from None
        except quickjs.StackOverflow:
            self._context = self._fresh_context()
            raise HandlerCrash(f"{self.path}: {name}: stack overflow") from None
        return HandlerAnswer(
            answer.get("result"),
            answer.get("signal"),
            answer.get("message"),
            answer.get("errorType"),
            answer.get("log", []),
        )

    def _located(self, text: str) -> str:
        """``FILE:LINE: first line of the error`` (the line of the innermost frame)."""
        first, _, rest = text.partition("\n")
        line = next(
            (
                frame.group(2) or frame.group(3)
                for frame in _FRAME.finditer(rest)
                if not (frame.group(1) or "").startswith("__")  # prelude.js's own frames
            ),
            None,
        )
        where = f"{self.path}:{line}" if line else str(self.path)
        return f"{where}: {first.strip()}"
