"""Tests of the built-in sources, against real files, databases and HTTP servers."""
