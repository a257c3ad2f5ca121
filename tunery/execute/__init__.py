"""Executors run trials; the local one uses subprocesses."""
