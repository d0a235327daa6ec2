"""The synthetic organisation and its data generators."""
