"""Helpers shared by the tests: live emulators, clients, Locust runs."""
