"""Channel namespace handlers (``onPublish``, ``onSubscribe``) run as AppSync runs them:
the user's own JavaScript file per namespace (docs/emulator.md#handlers)."""
