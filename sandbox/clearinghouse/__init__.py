"""The clearinghouse emulator: its ASGI app and synthetic data."""
