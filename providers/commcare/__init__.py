"""CommCare HQ case APIs (v0.5 list/detail, Case Data API v2): client, wire models, v2 writes (emulator: sandbox/)."""
