"""The sandbox: stand-ins for the three provider APIs (app, store and synthetic data), for --sandbox and the tests."""
