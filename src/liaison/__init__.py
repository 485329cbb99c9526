"""Liaison: self-hosted marketing automation whose heart is its integrations."""

__version__ = "0.1.0"
