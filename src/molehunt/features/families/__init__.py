"""Feature families: one module each, registered by defining ``FAMILY``."""
