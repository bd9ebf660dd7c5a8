"""Certn public API ("Centric"): client, wire models and vocabularies (the emulator is in sandbox/certn)."""
