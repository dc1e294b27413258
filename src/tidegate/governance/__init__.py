"""Governance: PII classification, masking, field-level encryption."""
