"""The NLP layer: the spaCy/medspaCy pipeline, its components, and Doc -> mentions."""
