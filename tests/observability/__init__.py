"""Tests of the observing listeners."""
