"""Resilience: retries, circuit breakers and fault injection (DESIGN §4)."""
