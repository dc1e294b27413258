"""Tests of retries, circuit breakers and fault injection."""
