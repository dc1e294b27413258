"""The composition root: bootstrap (spec -> registry -> objects) and the CLI; knows every package."""
