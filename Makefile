# Two commands do everything on a fresh machine: `make report` and `make test`.
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: test report bench lint clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q

report: $(STAMP)
	$(BIN)/killmatrix report --json reports/report.json --stryker reports/stryker.json

bench: $(STAMP)
	$(BIN)/python bench/attention.py
	$(BIN)/python bench/beam_search.py

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) mutants .hypothesis .killmatrix-cache
