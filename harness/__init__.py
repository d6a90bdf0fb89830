"""Load and reliability testing harness for AWS AppSync Events APIs."""
