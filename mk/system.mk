# The package on a real systemd host (included by the main Makefile):
#   make test-system   builds the .deb (and a "previous" one) and runs scripts/system-test.sh:
#                      Debian 12 with systemd as PID 1 under QEMU, apt install / reload /
#                      watchdog / upgrade / purge and the Ansible role (contrib/ansible).
# The guest image is built once with mmdebstrap and cached under build/system/.
.PHONY: test-system
test-system: package-deps
	@$(MAKE) --no-print-directory $(DEB_FILE)
	@scripts/system-test.sh --build $(BUILD)
