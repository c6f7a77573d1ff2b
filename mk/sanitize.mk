# Sanitizer builds (included by the main Makefile); clang with compiler-rt's runtimes
# (Debian: libclang-rt-14-dev, installed by scripts/install-deps.sh --sanitizers).
#   make fuzz        builds the libFuzzer targets tests/fuzz/fuzz_*.c into build/fuzz/, replays
#                    tests/fuzz/regressions/TARGET/, then fuzzes each for FUZZ_SECONDS (default 30)
#                    from a copy of tests/fuzz/corpus/TARGET/; a crash fails and is kept as a
#                    regression input (scripts/fuzz.sh)
#   make test-asan   the unit tests built with ASan and UBSan into build/asan/, run
# Both close with "N passed, N failed"; .ci/run runs both (make fuzz with FUZZ_SECONDS=10).

FUZZ_SECONDS ?= 30
FUZZ_DIR := $(BUILD)/fuzz
ASAN_DIR := $(BUILD)/asan
FUZZ_TARGETS := $(notdir $(basename $(wildcard tests/fuzz/fuzz_*.c)))
FUZZ_BINS := $(patsubst %,$(FUZZ_DIR)/%,$(FUZZ_TARGETS))
SAN_LIB_SRCS := $(filter-out agent/core/main.c,$(AGENT_SRCS))
# Every UBSan finding aborts, so a fuzzer and a test see it as a crash, not a line on stderr.
SAN_CFLAGS := -O1 -g -fno-omit-frame-pointer -fno-sanitize-recover=all
FUZZ_CFLAGS := $(SAN_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined
ASAN_CFLAGS := $(SAN_CFLAGS) -fsanitize=address,undefined
FUZZ_LIB_OBJS := $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(SAN_LIB_SRCS))
ASAN_LIB_OBJS := $(patsubst %.c,$(ASAN_DIR)/obj/%.o,$(SAN_LIB_SRCS))
ASAN_UNIT_BINS := $(patsubst tests/unit/%.c,$(ASAN_DIR)/tests/%,$(UNIT_SRCS))
SAN_HEADERS := $(AGENT_HEADERS) $(wildcard probes/*.h) $(LIBBPF_A)

.PHONY: fuzz fuzz-build test-asan sanitizer-deps

sanitizer-deps:
	@scripts/install-deps.sh --sanitizers --if-missing

$(FUZZ_DIR)/obj/%.o: %.c $(SKELS) $(SAN_HEADERS)
	@mkdir -p $(dir $@)
	@echo "  CC      $@ (fuzz)"
	@$(CLANG) $(CFLAGS) $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FUZZ_LIB_OBJS)
	@echo "  FUZZ    $@"
	@$(CLANG) $(CFLAGS) $(SAN_CFLAGS) -fsanitize=fuzzer,address,undefined -Itests/fuzz $< $(FUZZ_LIB_OBJS) \
		-o $@ $(LDFLAGS) $(LDLIBS)

fuzz-build: $(FUZZ_BINS)

fuzz: sanitizer-deps
	@$(MAKE) --no-print-directory fuzz-build
	@scripts/fuzz.sh $(FUZZ_DIR) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

$(ASAN_DIR)/obj/%.o: %.c $(SKELS) $(SAN_HEADERS)
	@mkdir -p $(dir $@)
	@echo "  CC      $@ (asan)"
	@$(CLANG) $(CFLAGS) $(ASAN_CFLAGS) -c $< -o $@

$(ASAN_DIR)/tests/%: tests/unit/%.c $(UNIT_LIB_SRCS) $(UNIT_LIB_HDRS) $(ASAN_LIB_OBJS)
	@mkdir -p $(dir $@)
	@echo "  TEST    $@ (asan)"
	@$(CLANG) $(CFLAGS) $(ASAN_CFLAGS) -Itests/lib/unit -Wno-unused-parameter $< $(UNIT_LIB_SRCS) $(ASAN_LIB_OBJS) -o $@ $(LDFLAGS) $(LDLIBS) \
		-lcmocka $(shell sed -n 's/^\/\/ LDWRAP: //p' $<)

# Leaks fail too (LeakSanitizer is part of ASan on x86_64).
test-asan: sanitizer-deps
	@$(MAKE) --no-print-directory $(ASAN_UNIT_BINS)
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 scripts/run-tests.sh $(ASAN_DIR) --unit-only
