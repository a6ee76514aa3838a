"""siteveil transformer: the KServe transformer that anonymizes people in images."""

__version__ = "0.1.0"
