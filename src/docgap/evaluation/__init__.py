"""Evaluation against gold labels and corpus statistics."""
