"""Outside code: adapters to the contract, the confined worker, `check` runs and their verdicts, submissions."""
