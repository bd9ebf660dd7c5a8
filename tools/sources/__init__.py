"""Per-provider adapters: turn validated tool inputs into provider client calls and results."""
