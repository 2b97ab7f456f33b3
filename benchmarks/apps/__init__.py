"""Standalone contender processes the suite starts on loopback (each runs as a script)."""
