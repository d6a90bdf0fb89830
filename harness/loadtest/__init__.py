"""The Locust face of the harness: options, users, listeners, scenario helpers."""
