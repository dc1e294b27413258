"""Crash-and-resume tests: kill ``tidegate run`` at random moments, resume, compare every row."""
