"""End-to-end tests: the real client against a local double of Discord."""
