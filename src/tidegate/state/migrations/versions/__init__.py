"""One module per state store schema revision, oldest first."""
