# nlfast: `make bench` runs the benchmark, `make test` runs every test.
# Both install what is missing first (Debian packages, a venv with extras).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
KVER   ?= $(shell $(PYTHON) guest/vm.py --print-kver 2>/dev/null)
KDIR   ?= /usr/src/linux-headers-$(KVER)
APT_PKGS := gcc make iproute2 util-linux kmod procps qemu-system-x86 busybox-static \
	linux-image-amd64 linux-headers-amd64 linux-source-6.1 dkms libasan8

SOURCES := $(wildcard csrc/*.c csrc/*.h csrc/*.py nlfast/*.py) kernel/uapi/nlfast_family.h \
	setup.py pyproject.toml

.PHONY: all deps venv test test-host test-guest lint module bench clean

all: venv

# Debian packages, installed only when missing (apt-get update once first).
deps:
	@missing=""; for p in $(APT_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

$(VENV)/.stamp: $(SOURCES)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,bench]'
	touch $@

venv: $(VENV)/.stamp

lint: venv
	$(VENV)/bin/ruff check nlfast tests tests_guest benchmarks
	$(VENV)/bin/mypy

test-host: deps venv
	$(VENV)/bin/pytest -q tests

module: deps
	$(MAKE) -C kernel KDIR=$(KDIR)

test-guest: deps venv module
	$(PYTHON) guest/vm.py --timeout 900 -- $(CURDIR)/$(VENV)/bin/pytest -q -p no:cacheprovider tests_guest

test: lint test-host test-guest

bench: deps venv
	$(PY) -m benchmarks.run

clean:
	rm -rf build dist *.egg-info nlfast/_nlfast_cffi* .pytest_cache
	-$(MAKE) -C kernel clean KDIR=$(KDIR)
