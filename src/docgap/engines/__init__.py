"""Engines that run the analyzer over many notes: local processes and Spark."""
