# The two commands of the README: `make demo` and `make test`. Each installs what it needs into .venv.
VENV ?= .venv
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: demo test services browser

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

services:
	@.ci/ensure-services

browser:
	@.ci/ensure-browser

demo: $(STAMP) services
	$(VENV)/bin/geohazard demo

# Two workers: every test has its own database and topic root, and most of their time is spent waiting on
# PostgreSQL, the broker or a browser (on 2 cores: 8 min instead of about 11). TEST_WORKERS=0 runs them in one process.
TEST_WORKERS ?= 2

test: $(STAMP) services browser
	$(VENV)/bin/pytest -n $(TEST_WORKERS)
