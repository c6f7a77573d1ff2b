# Dashboards generated from the metric catalogue (included by the main Makefile).
#   make dashboards         rewrite dashboards/*/ from build/bpfpush --list-metrics
#   make check-dashboards   every metric a dashboard names is in --list-metrics, every metric
#                           --list-metrics prints is on a panel of each set, and the committed
#                           JSON is what the generator writes now (no root needed)
#   make test-dashboards    root: the agent into a private carbon-cache, Debian's graphite-web on
#                           127.0.0.1 over that storage, every Graphite panel target rendered
#                           (needs scripts/install-peers.sh and apt-get install graphite-web)

PYTHON3 ?= python3

.PHONY: dashboards check-dashboards test-dashboards

dashboards: $(BUILD)/bpfpush
	$(PYTHON3) dashboards/generate.py --agent $(BUILD)/bpfpush

check-dashboards: $(BUILD)/bpfpush
	$(PYTHON3) scripts/check-dashboards.py --agent $(BUILD)/bpfpush

test-dashboards: $(BUILD)/bpfpush
	/usr/bin/python3 scripts/test-dashboards.py --agent $(BUILD)/bpfpush
