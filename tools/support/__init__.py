"""What the tools share, so no tool module imports another: refs, the confirmation flow, the ledger claim, orders."""
