"""The pytest side: plugins loaded into the suite's child processes, the Hypothesis profiles, the child runner."""
