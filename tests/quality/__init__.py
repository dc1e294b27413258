"""Tests of the data-quality rules, their thresholds and metrics (``tidegate.quality``)."""
