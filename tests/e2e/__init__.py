"""End-to-end tests through the tidegate command line."""
