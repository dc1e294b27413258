"""The composition root: bootstrap (spec -> registry -> objects) and the CLI.

The only package that knows every other one.
"""
