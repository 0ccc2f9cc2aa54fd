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
# ../shared/ros (see its LAUNCH-HERE.md): wheels of launch, launch_ros, launch_testing and
# ros2cli, and the sources of composition_interfaces and vision_msgs. Without it the launch
# tests skip with a message; everything else runs.
SHARED_ROS ?= $(abspath $(CURDIR)/../shared/ros)
LAUNCH_WHEELS := launch launch-xml launch-yaml launch-testing launch-pytest launch-ros \
	launch-testing-ros ros2launch ros2cli ros2pkg ros2topic ros2run ros2node ros2param \
	ros2interface ros2service ros2lifecycle ros2doctor osrf-pycommon rosidl-runtime-py
ROS_SOURCES := composition_interfaces-2.2.0 vision_msgs-4.1.1
# vision_msgs + composition_interfaces for Kilted (install/ros stays foir360's alone).
DEPS_PREFIX := $(CURDIR)/install/ros-deps
# Jazzy (the LTS most robots run): a second venv with PyPI's ros-jazzy-* wheels and every
# interface (foir360's, vision_msgs, composition_interfaces) built with them in one prefix.
JAZZY_VENV := .venv-jazzy
JAZZY_PY := $(JAZZY_VENV)/bin/python
JAZZY_PREFIX := $(CURDIR)/install/ros-jazzy
STAMPS := build/stamps
HAVE_SHARED_ROS := $(wildcard $(SHARED_ROS)/wheels)
space := $() $()
joined = $(subst $(space),:,$(strip $(1)))

# $(call ros_env,VENV,PREFIXES): the environment a ROS 2 process needs (interfaces in
# PREFIXES, the venv's wheels, the loopback-only DDS profile).
ros_env = AMENT_PREFIX_PATH=$(call joined,$(2)):$(CURDIR)/$(1) \
	CMAKE_PREFIX_PATH=$(call joined,$(2)):$(CURDIR)/$(1) \
	PYTHONPATH=$(call joined,$(addsuffix /lib/python3.11/site-packages,$(2))) \
	LD_LIBRARY_PATH=$(call joined,$(addsuffix /lib,$(2))):$(CURDIR)/$(1)/lib \
	PATH=$(CURDIR)/$(1)/bin:$$PATH \
	FASTDDS_DEFAULT_PROFILES_FILE=$(CURDIR)/config/fastdds_loopback.xml \
	RMW_IMPLEMENTATION=rmw_fastrtps_cpp
ROS_ENV = $(call ros_env,$(VENV),$(ROS_PREFIX) $(DEPS_PREFIX))
JAZZY_ENV = $(call ros_env,$(JAZZY_VENV),$(JAZZY_PREFIX))

# $(call ros_build,SOURCE_DIR,BUILD_DIR,PREFIX,VENV,ENV,CMAKE_FLAGS): cmake + make install of
# one ROS 2 package with the venv's rosidl wheels (no colcon needed). The wheels' CMake
# targets point at /opt/python/cp311-cp311/...: give them those paths first.
define ros_build
	@inc=$$($(4)/bin/python -c "import sysconfig;print(sysconfig.get_paths()['include'])"); \
	npi=$$($(4)/bin/python -c "import numpy;print(numpy.get_include())"); \
	if [ ! -e /opt/python/cp311-cp311/include/python3.11 ]; then \
	  mkdir -p /opt/python/cp311-cp311/include /opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core && \
	  ln -sfn $$inc /opt/python/cp311-cp311/include/python3.11; fi; \
	[ -e /opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include ] || \
	  ln -sfn $$npi /opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include
	rm -rf $(2) && mkdir -p $(2)
	cd $(2) && $(5) cmake $(1) -DCMAKE_INSTALL_PREFIX=$(3) \
	  -DPython3_EXECUTABLE=$(CURDIR)/$(4)/bin/python -DBUILD_TESTING=OFF $(6) \
	  -DPython3_NumPy_INCLUDE_DIR=/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include > cmake.log 2>&1 || (tail -40 cmake.log; exit 1)
	cd $(2) && $(5) make -j2 install > make.log 2>&1 || (tail -40 make.log; exit 1)
endef

# $(call ros_sources,BUILD_ROOT,PREFIX,VENV,ENV): the two packages of $(SHARED_ROS)/src.
define ros_sources
	mkdir -p $(1)/src && for src in $(ROS_SOURCES); do \
	  tar xzf $(SHARED_ROS)/src/$$src.tar.gz -C $(1)/src || exit 1; done
	$(call ros_build,$(CURDIR)/$(1)/src/composition_interfaces,$(1)/composition_interfaces,$(2),$(3),$(4))
	$(call ros_build,$(CURDIR)/$(1)/src/vision_msgs,$(1)/vision_msgs,$(2),$(3),$(4))
endef

# $(call launch_tools,VENV): the launch/ros2cli wheels; --no-deps because they name
# ament_index_python, which the ROS wheels provide under another distribution name.
define launch_tools
	$(1)/bin/python -m pip install -q psutil pyyaml lark
	$(1)/bin/python -m pip install -q --no-deps --no-index --find-links $(SHARED_ROS)/wheels \
	  $(LAUNCH_WHEELS)
endef

.PHONY: venv install interfaces ros-deps jazzy lint test test-jazzy demo bench clean browser

$(VENV)/.installed: setup.py
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e ".[all,dev,ros,hf]"
	$(PIP) install -q $$(cat .ci/ros-build-wheels.txt)
	touch $@

install: $(VENV)/.installed

# Generate and install the package's messages with the ROS 2 Kilted wheels from PyPI.
$(ROS_PREFIX)/.built: $(VENV)/.installed CMakeLists.txt package.xml $(wildcard msg/*.msg) \
		$(wildcard foir360_ros/scripts/*)
	$(call ros_build,$(CURDIR),build/ros,$(ROS_PREFIX),$(VENV),$(ROS_ENV),-DFOIR360_INSTALL_PYTHON=OFF)
	touch $@

interfaces: $(ROS_PREFIX)/.built

# launch, ros2cli, vision_msgs and composition_interfaces for Kilted (from $(SHARED_ROS)).
$(STAMPS)/ros-deps-kilted: $(VENV)/.installed
	$(call launch_tools,$(VENV))
	$(call ros_sources,build/ros-deps,$(DEPS_PREFIX),$(VENV),$(ROS_ENV))
	mkdir -p $(STAMPS) && touch $@

ros-deps: $(if $(HAVE_SHARED_ROS),$(STAMPS)/ros-deps-kilted,)
	@$(if $(HAVE_SHARED_ROS),:,echo "$(SHARED_ROS) is absent: the launch tests will skip")

# The Jazzy venv: foir360 with its extras and the ros-jazzy-* wheels, then every interface
# built with them (and the launch tools from $(SHARED_ROS) when present).
$(JAZZY_VENV)/.installed: setup.py .ci/ros-jazzy-wheels.txt
	$(PYTHON) -m venv $(JAZZY_VENV)
	$(JAZZY_PY) -m pip install -q --upgrade pip
	$(JAZZY_PY) -m pip install -q torch==2.13.0
	$(JAZZY_PY) -m pip install -q -e ".[all,dev,ros-jazzy]"
	$(JAZZY_PY) -m pip install -q $$(cat .ci/ros-jazzy-wheels.txt)
	touch $@

$(JAZZY_PREFIX)/.built: $(JAZZY_VENV)/.installed CMakeLists.txt package.xml \
		$(wildcard msg/*.msg) $(wildcard foir360_ros/scripts/*)
	$(call ros_build,$(CURDIR),build/ros-jazzy/foir360,$(JAZZY_PREFIX),$(JAZZY_VENV),$(JAZZY_ENV),-DFOIR360_INSTALL_PYTHON=OFF)
	touch $@

$(STAMPS)/ros-deps-jazzy: $(JAZZY_VENV)/.installed
	$(call launch_tools,$(JAZZY_VENV))
	$(call ros_sources,build/ros-jazzy,$(JAZZY_PREFIX),$(JAZZY_VENV),$(JAZZY_ENV))
	mkdir -p $(STAMPS) && touch $@

jazzy: $(JAZZY_PREFIX)/.built $(if $(HAVE_SHARED_ROS),$(STAMPS)/ros-deps-jazzy,)

lint: install
	$(VENV)/bin/ruff check .

# Headless chromium for the annotation page's browser tests (Debian package; root for apt).
browser:
	@[ -x /usr/bin/chromium ] || { apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }

# Everything on Kilted, then the ROS tests again on Jazzy.
test: install interfaces ros-deps lint browser jazzy
	$(ROS_ENV) $(PY) -m pytest -q
	$(MAKE) --no-print-directory test-jazzy

test-jazzy: jazzy
	$(JAZZY_ENV) $(JAZZY_PY) -m pytest -q -m ros tests/ros

demo: install interfaces
	$(ROS_ENV) $(PY) -m foir360_ros.demo --out out/demo

bench: install interfaces
	for b in benchmarks/bench_*.py; do $(ROS_ENV) $(PY) $$b || exit 1; done

clean:
	rm -rf build install .pytest_cache out $(JAZZY_VENV)
