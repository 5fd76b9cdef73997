# Two commands do everything on a fresh machine: `make report` and `make test`.
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: test corpus report refresh-viewer screenshots bench grades lint clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q -m "not corpus"

# `grade` over examples/corpus/: every correct implementation passes, every buggy twin fails by name; and each
# reference audited with its own suite misses nothing real (minutes).
corpus: $(STAMP)
	$(BIN)/python -m pytest -q -m corpus tests/test_corpus.py tests/test_reference_audit.py

# The report, then docs/generated/ (kill matrix, mutmut score and ledger) rendered from its JSON, even when the
# report fails (a surviving mutant belongs on the page too); make still exits with the report's status.
report: $(STAMP)
	status=0; $(BIN)/killmatrix report --json reports/report.json --stryker reports/stryker.json \
		--html reports/index.html || status=$$?; \
	[ $$status -gt 1 ] || $(BIN)/killmatrix docs --report reports/report.json; exit $$status

# The benches print their tables and write them as JSON, rendered into docs/generated/bench.md.
bench: $(STAMP)
	PYTHONPATH=. $(BIN)/python bench/attention.py --json reports/bench/attention.json
	PYTHONPATH=. $(BIN)/python bench/beam_search.py --json reports/bench/beam_search.json
	$(BIN)/killmatrix docs --bench reports/bench/attention.json --bench reports/bench/beam_search.json

# `grade` over the corpus and the example submissions (minutes), rendered into docs/generated/grade-*.md.
GRADED := examples/corpus/flash examples/corpus/flash_bwd examples/corpus/beam examples/submissions
grades: $(STAMP)
	for dir in $(GRADED); do \
		$(BIN)/killmatrix grade $$dir --json reports/grade/$$(echo $$dir | tr / -).json; \
		[ $$? -le 1 ] || exit 2; done
	$(BIN)/killmatrix docs $(foreach dir,$(GRADED),--grade reports/grade/$(subst /,-,$(dir)).json)

# The viewer `report --html` inlines (killmatrix/vendor/): `make refresh-viewer VIEWER_VERSION=3.9.0`, then run
# tests/test_html_pages.py, which renders the pages with it in Chromium.
refresh-viewer:
	killmatrix/vendor/refresh-mutation-testing-elements.sh $(VIEWER_VERSION)

# The README's screenshots (docs/img/), taken by the browser test on the pages `make report` wrote.
screenshots: $(STAMP)
	KILLMATRIX_REPORT_HTML=reports/index.html $(BIN)/python -m pytest -q -p no:xdist tests/test_html_pages.py -k real_report
	cp reports/index.png docs/img/report.png
	cp reports/kill-matrix.png docs/img/kill-matrix.png

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) mutants .hypothesis .killmatrix-cache reports
