# The two commands a new user needs: `make demo` and `make test`. Both set up .venv from the lock file first.
.PHONY: demo test test-fast setup lock bench clean

VENV := .venv
PY := $(VENV)/bin/python

setup:
	@scripts/setup-venv.sh

demo: setup
	$(VENV)/bin/tunegate demo --out runs/demo

test: setup
	$(PY) -m pytest -q

test-fast: setup
	$(PY) -m pytest -q -m "not integration"

bench: setup
	$(PY) bench/run_all.py

# Re-pin every transitive dependency after editing requirements.in.
lock:
	rm -rf /tmp/tunegate-lock && python3 -m venv /tmp/tunegate-lock
	/tmp/tunegate-lock/bin/pip install -q -r requirements.in
	{ sed -n '1,2p' requirements.lock; /tmp/tunegate-lock/bin/pip freeze | sed 's/^torch==\(.*\)+cpu$$/torch==\1/'; } > requirements.lock.new
	mv requirements.lock.new requirements.lock

clean:
	rm -rf runs .pytest_cache
