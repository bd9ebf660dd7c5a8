"""The certn emulator: its ASGI app and synthetic data."""
