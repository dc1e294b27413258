"""Tidegate test suite; mirrors src/tidegate/."""
