"""Certn public API ("Centric"): client, vocabularies and emulator."""
