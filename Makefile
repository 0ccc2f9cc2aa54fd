# foir360 developer entry points. Two commands matter for a newcomer (see README):
#   make demo   - set up and run the main job end to end on the embedded default
#   make test   - set up and run the whole test suite (lint, unit, ROS 2, browser)
# Everything installs into ./.venv; nothing needs root except `make browser` (apt).

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# The ROS 2 interfaces are built into ./install/ros (cmake + make, no colcon needed).
ROS_PREFIX := $(CURDIR)/install/ros
SITE := $(shell [ -x $(PY) ] && $(PY) -c "import sysconfig;print(sysconfig.get_paths()['purelib'])")
ROS_ENV = AMENT_PREFIX_PATH=$(ROS_PREFIX):$(CURDIR)/$(VENV) \
	CMAKE_PREFIX_PATH=$(ROS_PREFIX):$(CURDIR)/$(VENV) \
	PYTHONPATH=$(ROS_PREFIX)/lib/python3.11/site-packages \
	LD_LIBRARY_PATH=$(ROS_PREFIX)/lib:$(CURDIR)/$(VENV)/lib \
	FASTDDS_DEFAULT_PROFILES_FILE=$(CURDIR)/config/fastdds_loopback.xml \
	RMW_IMPLEMENTATION=rmw_fastrtps_cpp

.PHONY: venv install interfaces lint test demo bench clean browser

$(VENV)/.installed: setup.py
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e ".[all,dev,ros]"
	$(PIP) install -q $$(cat .ci/ros-build-wheels.txt)
	touch $@

install: $(VENV)/.installed

# Generate and install the package's messages with the ROS 2 Kilted wheels from PyPI.
# The wheels' CMake targets point at /opt/python/cp311-cp311/...: give them those paths.
$(ROS_PREFIX)/.built: $(VENV)/.installed CMakeLists.txt package.xml $(wildcard msg/*.msg)
	@inc=$$($(PY) -c "import sysconfig;print(sysconfig.get_paths()['include'])"); \
	npi=$$($(PY) -c "import numpy;print(numpy.get_include())"); \
	if [ ! -e /opt/python/cp311-cp311/include/python3.11 ]; then \
	  mkdir -p /opt/python/cp311-cp311/include /opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core && \
	  ln -sfn $$inc /opt/python/cp311-cp311/include/python3.11; fi; \
	[ -e /opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include ] || \
	  ln -sfn $$npi /opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include
	rm -rf build/ros && mkdir -p build/ros
	cd build/ros && $(ROS_ENV) PATH=$(CURDIR)/$(VENV)/bin:$$PATH cmake $(CURDIR) \
	  -DCMAKE_INSTALL_PREFIX=$(ROS_PREFIX) -DPython3_EXECUTABLE=$(CURDIR)/$(PY) \
	  -DBUILD_TESTING=OFF -DFOIR360_INSTALL_PYTHON=OFF \
	  -DPython3_NumPy_INCLUDE_DIR=/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include > cmake.log 2>&1 || (tail -40 cmake.log; exit 1)
	cd build/ros && $(ROS_ENV) PATH=$(CURDIR)/$(VENV)/bin:$$PATH make -j2 install > make.log 2>&1 \
	  || (tail -40 make.log; exit 1)
	touch $@

interfaces: $(ROS_PREFIX)/.built

lint: install
	$(VENV)/bin/ruff check .

# Headless chromium for the annotation page's browser tests (Debian package; root for apt).
browser:
	@[ -x /usr/bin/chromium ] || { apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }

test: install interfaces lint browser
	$(ROS_ENV) $(PY) -m pytest -q

demo: install interfaces
	$(ROS_ENV) $(PY) -m foir360_ros.demo --out out/demo

bench: install interfaces
	for b in benchmarks/bench_*.py; do $(ROS_ENV) $(PY) $$b || exit 1; done

clean:
	rm -rf build install .pytest_cache out
