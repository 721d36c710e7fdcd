# revive: `make` builds ./pipeline; `make check` runs every test; `make demo` runs the demo;
# `make bench` prints the benchmarks. `make deps` installs missing Debian packages.
# `make fuzz` runs the libFuzzer harnesses (tests/fuzz/) FUZZ_TIME seconds each (default 600).
# Switches: SANITIZE=address,undefined   DEBUG=1   CFLAGS=...
CC      = mpicc
CFLAGS ?= -O3 -march=native
ifeq ($(DEBUG),1)
CFLAGS  = -O0 -g3
endif
PKGS      = hdf5 openblas inih zlib libpng fftw3f
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# oneDNN (libdnnl-dev, train.conv_algo = onednn): Debian 12 ships no dnnl.pc.
DNNL_LIBS  = $(shell pkg-config --libs dnnl 2>/dev/null || echo -ldnnl)
ALL_CFLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Wno-unused-parameter \
             -fopenmp -MMD -MP -Iinclude $(PKG_CFLAGS) $(CFLAGS)
LDLIBS     = $(PKG_LIBS) $(DNNL_LIBS) -fopenmp -lm
ifdef SANITIZE
ALL_CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -g
LDLIBS     += -fsanitize=$(SANITIZE)
endif

# Checked builds go to their own directory so objects of different flags never mix.
B = build$(if $(SANITIZE),-san)$(if $(filter 1,$(DEBUG)),-debug)
ENGINE_SRC = $(filter-out src/cli/main.c,$(wildcard src/*/*.c src/*/*/*.c stages/*.c))
ENGINE_OBJ = $(ENGINE_SRC:%.c=$(B)/%.o)
TEST_SRC   = $(wildcard tests/test_*.c)
TEST_BIN   = $(TEST_SRC:tests/%.c=$(B)/tests/%)
TEST_SUPPORT = $(B)/tests/support.o $(B)/tests/support_h5.o
BENCH_SRC  = $(wildcard bench/bench_*.c)
BENCH_BIN  = $(BENCH_SRC:bench/%.c=$(B)/bench/%)

# Checked builds put their pipeline in their build directory, so ./pipeline is always the
# release build and a checked build never passes for it. Defined before `all`: make expands a
# rule's prerequisites as it reads the rule, so a later definition would leave `all` empty.
PIPELINE_BIN = $(if $(SANITIZE)$(filter 1,$(DEBUG)),$(B)/pipeline,pipeline)

.PHONY: all deps check check-run demo demo-run bench bench-run tests clean docs fuzz fuzz-run fuzz-short
all: $(PIPELINE_BIN)

$(PIPELINE_BIN): $(B)/src/cli/main.o $(B)/librevive.a
	$(CC) -o $@ $^ $(LDLIBS)

$(B)/librevive.a: $(ENGINE_OBJ)
	@rm -f $@
	ar rcs $@ $^

# The commit goes into src/io/provenance.c only; a stamp file that changes when the commit does
# rebuilds it (and nothing else). Outside a git checkout: "unknown".
REVIVE_COMMIT := $(shell git describe --always --dirty 2>/dev/null || echo unknown)
$(B)/src/io/provenance.o: ALL_CFLAGS += -DREVIVE_COMMIT='"$(REVIVE_COMMIT)"'
$(B)/src/io/provenance.o: $(B)/commit.stamp
$(B)/commit.stamp: FORCE
	@mkdir -p $(B)
	@echo '$(REVIVE_COMMIT)' | cmp -s - $@ || echo '$(REVIVE_COMMIT)' > $@
.PHONY: FORCE
FORCE:

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# Kept (not an intermediate make deletes), so an unchanged test binary is not relinked.
.SECONDARY: $(TEST_SUPPORT)
$(B)/tests/%: tests/%.c $(TEST_SUPPORT) $(B)/librevive.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(TEST_SUPPORT) $(B)/librevive.a $(LDLIBS) -lcmocka

$(B)/bench/%: bench/%.c $(B)/librevive.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(B)/librevive.a $(LDLIBS)

# Replay drivers: a fuzz harness without libFuzzer, run by make check on the seeds and
# tests/fuzz/regressions/ (tests/fuzz.test.sh), in every build, sanitizers included.
FUZZ_NAMES  = config checkpoint image
REPLAY_BIN  = $(FUZZ_NAMES:%=$(B)/tests/replay_%)
$(B)/tests/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c $(B)/librevive.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ tests/fuzz/fuzz_$*.c tests/fuzz/replay.c $(B)/librevive.a $(LDLIBS)

tests: $(TEST_BIN) $(PIPELINE_BIN) $(REPLAY_BIN)

deps:
	@sh scripts/install-deps.sh

# Install what is missing first, then re-read this Makefile so pkg-config sees the new packages.
check: deps
	@$(MAKE) --no-print-directory check-run
check-run: tests
	@PIPELINE=./$(PIPELINE_BIN) SANITIZED=$(SANITIZE) REPLAY_DIR=$(B)/tests sh tests/run.sh $(TEST_BIN)
	@$(MAKE) --no-print-directory fuzz-short

demo: deps
	@$(MAKE) --no-print-directory demo-run
demo-run: pipeline
	sh scripts/demo.sh

bench: deps
	@$(MAKE) --no-print-directory bench-run
# revive against PyTorch, interleaved (bench/compare.py; revive alone without python3-torch).
# BENCH_ARGS passes options on, e.g. make bench BENCH_ARGS="--inputs 1x28x28 --repeats 1".
bench-run: $(BENCH_BIN) $(PIPELINE_BIN)
	/usr/bin/python3 bench/compare.py --bin-dir $(B)/bench --pipeline ./$(PIPELINE_BIN) $(BENCH_ARGS)

# ---- fuzzing: clang's libFuzzer with AddressSanitizer, the engine rebuilt into build-fuzz/ ----
FUZZ_CC     = clang
FUZZ_TIME  ?= 600
FUZZ_CRAFTED ?= 0
# FUZZ_TIMEOUT: seconds one input may take before libFuzzer calls it a hang (raise it on a loaded machine)
FUZZ_TIMEOUT ?= 10
FUZZ_B      = build-fuzz
MPI_CFLAGS  = $(shell mpicc --showme:compile 2>/dev/null)
MPI_LIBS    = $(shell mpicc --showme:link 2>/dev/null)
FUZZ_CFLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L -fopenmp -Iinclude $(PKG_CFLAGS) $(MPI_CFLAGS) \
              -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address
FUZZ_OBJ    = $(ENGINE_SRC:%.c=$(FUZZ_B)/%.o)
FUZZ_BIN    = $(FUZZ_NAMES:%=$(FUZZ_B)/fuzz_%)
.SECONDARY: $(FUZZ_OBJ)
$(FUZZ_B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c -o $@ $<
$(FUZZ_B)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer,address -o $@ $^ $(PKG_LIBS) $(DNNL_LIBS) $(MPI_LIBS) -fopenmp -lm

# Seeds: the shipped configs, and small checkpoints written by the checkpoint harness's seed
# writer; new inputs go to $(FUZZ_B)/corpus-NAME; a crash is saved as $(FUZZ_B)/crash-NAME-*
# (keep it under tests/fuzz/regressions/NAME/ once fixed: make check replays that directory).
# FUZZ_CRAFTED=1: checkpoint inputs get their whole-file CRC-32 recomputed (crafted files, not
# damaged ones), which reaches HDF5's own bugs (tests/fuzz/known-hdf5-bugs/).
# malloc returns NULL for impossible sizes, as glibc's does (HDF5 asks for terabytes on some
# damaged files and handles the NULL); HDF5's own leaks on error paths are suppressed.
fuzz: deps
	@$(MAKE) --no-print-directory fuzz-run
fuzz-run: $(FUZZ_BIN) $(B)/tests/replay_checkpoint
	@mkdir -p $(FUZZ_B)/seeds-config $(FUZZ_B)/seeds-checkpoint $(FUZZ_B)/seeds-image
	@cp configs/*.ini $(FUZZ_B)/seeds-config/
	@cp tests/data/png/*.png $(FUZZ_B)/seeds-image/
	@./$(B)/tests/replay_checkpoint --seeds $(FUZZ_B)/seeds-checkpoint
	@for n in $(FUZZ_NAMES); do \
	    mkdir -p $(FUZZ_B)/corpus-$$n; \
	    echo "fuzz_$$n: $(FUZZ_TIME) s"; \
	    REVIVE_FUZZ_CRAFTED=$(FUZZ_CRAFTED) ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
	    LSAN_OPTIONS=suppressions=tests/fuzz/lsan.supp \
	    ./$(FUZZ_B)/fuzz_$$n -max_total_time=$(FUZZ_TIME) -max_len=1048576 \
	        -rss_limit_mb=2048 -timeout=$(FUZZ_TIMEOUT) -print_final_stats=1 -artifact_prefix=$(FUZZ_B)/crash-$$n- \
	        $(FUZZ_B)/corpus-$$n $(FUZZ_B)/seeds-$$n \
	        2>$(FUZZ_B)/fuzz_$$n.log || { tail -n 40 $(FUZZ_B)/fuzz_$$n.log; exit 1; }; \
	    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" $(FUZZ_B)/fuzz_$$n.log; \
	    echo "corpus: $$(ls $(FUZZ_B)/corpus-$$n | wc -l) inputs"; \
	done

# make check's few seconds of each harness; skipped with a message where clang's libFuzzer is
# missing, and in sanitizer builds (the replay of the corpus already runs there).
fuzz-short:
	@if [ -n "$(SANITIZE)" ]; then echo "fuzz: skipped in a SANITIZE build"; \
	elif ! printf 'int LLVMFuzzerTestOneInput(const char *d, long n) { return 0; }' | \
	    $(FUZZ_CC) -x c -fsanitize=fuzzer -o /dev/null - 2>/dev/null; then \
	    echo "fuzz: skipped: $(FUZZ_CC) with libFuzzer (clang, libclang-rt-14-dev) is not installed"; \
	else mkdir -p $(FUZZ_B) && $(MAKE) --no-print-directory fuzz-run FUZZ_TIME=5 >$(FUZZ_B)/short.log 2>&1 && \
	    echo "fuzz: 5 s of each harness, no crash" || { tail -n 60 $(FUZZ_B)/short.log; exit 1; }; fi

clean:
	rm -rf build build-san build-debug build-san-debug build-fuzz pipeline

-include $(shell find $(B) -name '*.d' 2>/dev/null)
-include $(shell find $(FUZZ_B) -name '*.d' 2>/dev/null)
