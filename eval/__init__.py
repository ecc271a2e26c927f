"""Evaluation data written by hand (free-form queries) and their loaders and scorers, torch-free."""
