"""Audits of test strength: outside tests against the named mutants, a user's own code and tests."""
