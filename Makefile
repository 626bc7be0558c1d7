# Developer entry points for edgec.
#
#   make setup  install the cross compilers and QEMU (apt-get), create .venv with edgec
#   make test   run the test suite (includes the QEMU tests)
#   make demo   run the keyword-spotting example end to end
#   make clean  remove .venv
#
# setup skips apt-get when every tool is already installed, and skips the Python install
# while .venv is newer than pyproject.toml, so it is quick when nothing changed.

PYTHON ?= python3.11
VENV := .venv
SETUP_STAMP := $(VENV)/.setup-done

# Debian packages: cross compilers, newlib for bare-metal Cortex-M, QEMU system and user mode.
APT_PACKAGES := gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm qemu-user \
	gcc-aarch64-linux-gnu libc6-dev-arm64-cross make python3-venv
# Commands from those packages (and gcc for the host target). setup installs the packages
# when a command is missing or a cross compiler cannot find its C library: gcc prints the
# bare file name back when -print-file-name finds nothing.
REQUIRED_COMMANDS := gcc make arm-none-eabi-gcc aarch64-linux-gnu-gcc qemu-system-arm qemu-aarch64
CORTEX_M4_FLAGS := -mcpu=cortex-m4 -mthumb -mfloat-abi=soft

# apt-get needs root: use sudo when not root and sudo exists.
SUDO := $(if $(filter 0,$(shell id -u)),,$(shell command -v sudo 2>/dev/null))

.PHONY: setup test demo clean

setup: $(SETUP_STAMP)

$(SETUP_STAMP): pyproject.toml
	@missing=""; \
	for command in $(REQUIRED_COMMANDS); do \
		command -v $$command >/dev/null 2>&1 || missing="$$missing $$command"; \
	done; \
	if [ -z "$$missing" ]; then \
		[ "$$(arm-none-eabi-gcc $(CORTEX_M4_FLAGS) -print-file-name=rdimon.specs)" != rdimon.specs ] \
			|| missing="$$missing newlib"; \
		[ "$$(aarch64-linux-gnu-gcc -print-file-name=libc.a)" != libc.a ] \
			|| missing="$$missing aarch64-libc"; \
	fi; \
	$(PYTHON) -c 'import ensurepip, venv' >/dev/null 2>&1 || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
		echo "setup: missing$$missing; installing Debian packages"; \
		$(SUDO) apt-get update && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
			$(APT_PACKAGES); \
	else \
		echo "setup: toolchains already installed"; \
	fi
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $@

test: setup
	$(VENV)/bin/pytest -q tests

demo: setup
	$(VENV)/bin/python examples/kws_demo.py

clean:
	rm -rf $(VENV)
