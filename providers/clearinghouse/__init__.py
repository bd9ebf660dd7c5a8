"""Civil Rights Litigation Clearinghouse (API v2.1): client, vocabularies, emulator."""
