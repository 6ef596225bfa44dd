"""Fuzz targets for kepler_reader (see README.md in this folder)."""
