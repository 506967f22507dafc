"""Concurrency tests: real separate processes writing one store at once."""
