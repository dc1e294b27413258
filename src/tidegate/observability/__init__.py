"""Listeners that observe runs (logs, metrics, traces, alerts) and health checks."""
