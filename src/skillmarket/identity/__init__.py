"""Identity: operators, their API keys, passports and trust levels."""
