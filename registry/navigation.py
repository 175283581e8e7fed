"""Sections of the beneficiary register in the sidebar (imported from `RegistryConfig.ready()`)."""
