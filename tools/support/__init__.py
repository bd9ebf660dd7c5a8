"""Helpers the write tools share: single-use elicited consent, "may have been placed", existing orders."""
