"""The Certn emulator: app (routes and HTTP handlers), store (state and rules), data (synthetic data)."""
