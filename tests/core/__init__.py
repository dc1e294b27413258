"""Tests of the runner, registry and run context."""
