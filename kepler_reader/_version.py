"""The version of kepler_reader, kept in one place."""

__version__ = "0.1.0"
