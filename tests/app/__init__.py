"""Tests of the composition root: bootstrap, CLI helpers and the demo dataset."""
