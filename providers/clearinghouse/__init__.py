"""Civil Rights Litigation Clearinghouse (API v2.1): client, wire models and vocabularies (emulator: sandbox/)."""
