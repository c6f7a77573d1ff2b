# Dashboards generated from the metric catalogue (included by the main Makefile).
#   make dashboards         rewrite dashboards/*/ from build/bpfpush --list-metrics
#   make check-dashboards   every metric a dashboard names is in --list-metrics, every metric
#                           --list-metrics prints is on a panel of each set, and the committed
#                           JSON is what the generator writes now (no root needed)
#   make test-dashboards    root: the agent into a private carbon-cache, Debian's graphite-web on
#                           127.0.0.1 over that storage, every Graphite panel target rendered
#                           (installs carbon through scripts/install-peers.sh and Debian's
#                           graphite-web when missing, with services kept from starting)

PYTHON3 ?= python3

.PHONY: dashboards check-dashboards test-dashboards

dashboards: $(BUILD)/bpfpush
	$(PYTHON3) dashboards/generate.py --agent $(BUILD)/bpfpush

check-dashboards: $(BUILD)/bpfpush
	$(PYTHON3) scripts/check-dashboards.py --agent $(BUILD)/bpfpush

test-dashboards: $(BUILD)/bpfpush
	scripts/install-peers.sh
	@dpkg -s graphite-web >/dev/null 2>&1 || { printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && \
		chmod 755 /usr/sbin/policy-rc.d && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphite-web; \
		rc=$$?; rm -f /usr/sbin/policy-rc.d; exit $$rc; }
	/usr/bin/python3 scripts/test-dashboards.py --agent $(BUILD)/bpfpush
