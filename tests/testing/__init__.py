"""Tests of the shipped test doubles."""
