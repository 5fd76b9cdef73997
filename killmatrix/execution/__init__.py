"""Where fan-out tasks run: this machine's threads or a dask cluster (executors.py), and the archives that
carry folders to machines that do not share this one's filesystem (archives.py)."""
