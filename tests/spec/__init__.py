"""Tests of tidegate.spec: pipeline.yaml loading, validation messages and the JSON schema."""
