"""Mutants: the named catalog, the ledger, running named and mutmut mutants on copies, the result cache."""
