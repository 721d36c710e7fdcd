# revive: `make` builds ./pipeline; `make check` runs every test; `make demo` runs the demo;
# `make bench` prints the benchmarks. `make deps` installs missing Debian packages.
# Switches: SANITIZE=address,undefined   DEBUG=1   CFLAGS=...
CC      = mpicc
CFLAGS ?= -O3 -march=native
ifeq ($(DEBUG),1)
CFLAGS  = -O0 -g3
endif
PKGS      = hdf5 openblas inih zlib
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
ALL_CFLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Wno-unused-parameter \
             -fopenmp -MMD -MP -Iinclude $(PKG_CFLAGS) $(CFLAGS)
LDLIBS     = $(PKG_LIBS) -fopenmp -lm
ifdef SANITIZE
ALL_CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -g
LDLIBS     += -fsanitize=$(SANITIZE)
endif

# Checked builds go to their own directory so objects of different flags never mix.
B = build$(if $(SANITIZE),-san)$(if $(filter 1,$(DEBUG)),-debug)
ENGINE_SRC = $(filter-out src/main.c,$(wildcard src/*.c src/layers/*.c src/data/*.c stages/*.c))
ENGINE_OBJ = $(ENGINE_SRC:%.c=$(B)/%.o)
TEST_SRC   = $(wildcard tests/test_*.c)
TEST_BIN   = $(TEST_SRC:tests/%.c=$(B)/tests/%)
TEST_SUPPORT = $(B)/tests/support.o
BENCH_SRC  = $(wildcard bench/bench_*.c)
BENCH_BIN  = $(BENCH_SRC:bench/%.c=$(B)/bench/%)

# Checked builds put their pipeline in their build directory, so ./pipeline is always the
# release build and a checked build never passes for it. Defined before `all`: make expands a
# rule's prerequisites as it reads the rule, so a later definition would leave `all` empty.
PIPELINE_BIN = $(if $(SANITIZE)$(filter 1,$(DEBUG)),$(B)/pipeline,pipeline)

.PHONY: all deps check check-run demo demo-run bench bench-run tests clean docs
all: $(PIPELINE_BIN)

$(PIPELINE_BIN): $(B)/src/main.o $(B)/librevive.a
	$(CC) -o $@ $^ $(LDLIBS)

$(B)/librevive.a: $(ENGINE_OBJ)
	@rm -f $@
	ar rcs $@ $^

# The commit goes into src/provenance.c only; a stamp file that changes when the commit does
# rebuilds it (and nothing else). Outside a git checkout: "unknown".
REVIVE_COMMIT := $(shell git describe --always --dirty 2>/dev/null || echo unknown)
$(B)/src/provenance.o: ALL_CFLAGS += -DREVIVE_COMMIT='"$(REVIVE_COMMIT)"'
$(B)/src/provenance.o: $(B)/commit.stamp
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

tests: $(TEST_BIN) $(PIPELINE_BIN)

deps:
	@sh scripts/install-deps.sh

# Install what is missing first, then re-read this Makefile so pkg-config sees the new packages.
check: deps
	@$(MAKE) --no-print-directory check-run
check-run: tests
	@PIPELINE=./$(PIPELINE_BIN) SANITIZED=$(SANITIZE) sh tests/run.sh $(TEST_BIN)

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

clean:
	rm -rf build build-san build-debug build-san-debug pipeline

-include $(shell find $(B) -name '*.d' 2>/dev/null)
