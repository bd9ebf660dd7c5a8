"""The commcare emulator: its ASGI app and synthetic data."""
