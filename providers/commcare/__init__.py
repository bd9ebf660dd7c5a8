"""CommCare HQ case APIs (v0.5 list/detail and Case Data API v2): client, emulator and synthetic data."""
