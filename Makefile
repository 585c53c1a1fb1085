# Aviary build. Plain GNU make; every library found through pkg-config
# (XNNPACK and pthreadpool ship no .pc file in Debian 12: see XNN_LIBS).
#
#   make            build/aviary
#   make test       set-up, build, every test (plain and ASan+UBSan)
#   make run        set-up, build, serve on :8080
#   make asan       ASan+UBSan build of everything, then its tests
#   make bench      benchmark programs (build/bench/*)
#   make bench-scaleout  nginx + 2 web + 2 model servers + MariaDB throughput (bench/scaleout.sh)
#   make fuzz       libFuzzer targets (clang)

CC      ?= cc
V       ?= 0
Q       := $(if $(filter 1,$(V)),,@)
BUILD   ?= build
PKG_CONFIG ?= pkg-config

PKGS     := libmicrohttpd jansson sqlite3 libturbojpeg spng libwebp libexif freetype2 libcurl \
            libmariadb libavformat libavcodec libswscale libavutil
XNN_LIBS := -lXNNPACK -lpthreadpool

PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)

OPT      ?= -O2
WARN     := -Wall -Wextra -Werror -Wstrict-prototypes -Wno-missing-field-initializers
CFLAGS   ?= $(OPT) -g
comma := ,
ALL_CFLAGS := -std=c11 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L $(WARN) $(CFLAGS) \
              -Isrc $(PKG_CFLAGS) -MMD -MP
# --exclude-libs: nothing of libaviary.a is exported, so FFmpeg's own av_log()
# (called inside libavcodec) can never bind to our logging function of that name.
LDLIBS   := -Wl,--exclude-libs,ALL $(PKG_LIBS) $(XNN_LIBS) -lpthread -lm

LIB_SRC   := $(filter-out src/cli/%,$(wildcard src/*/*.c))
CLI_SRC   := $(wildcard src/cli/*.c)
TEST_SRC  := $(wildcard tests/t_*.c)
BENCH_SRC := $(wildcard bench/*.c)
FUZZ_SRC  := $(wildcard fuzz/fuzz_*.c)

SQLITE_SQL := $(sort $(wildcard db/sqlite/*.sql))
MYSQL_SQL  := $(sort $(wildcard db/mysql/*.sql))
MLMD_SQL   := db/mlmd/sqlite.sql db/mlmd/mysql.sql
ASSETS    := $(sort $(wildcard templates/*.html static/*.css static/*.svg static/*.js))
LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/sqlite_migrations.o \
             $(BUILD)/obj/gen/mysql_migrations.o $(BUILD)/obj/gen/mlmd_sql.o \
             $(BUILD)/obj/gen/assets.o
CLI_OBJ   := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TEST_BIN  := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
FUZZ_BIN  := $(FUZZ_SRC:fuzz/%.c=$(BUILD)/fuzz/%)

.PHONY: all test check run asan asan-build bench bench-scaleout fuzz setup clean tests-bin
.DEFAULT_GOAL := all

all: $(BUILD)/aviary

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo '  CC      $<')
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

# Migrations ship inside the binary: db/sqlite/NNNN_*.sql in order.
$(BUILD)/gen/sqlite_migrations.c: $(SQLITE_SQL) scripts/embed-sql
	@mkdir -p $(dir $@)
	$(Q)./scripts/embed-sql av_store__sqlite_migrations $(SQLITE_SQL) > $@

$(BUILD)/gen/mysql_migrations.c: $(MYSQL_SQL) scripts/embed-sql
	@mkdir -p $(dir $@)
	$(Q)./scripts/embed-sql av_store__mysql_migrations $(MYSQL_SQL) > $@

# The ML Metadata schema (v10), one script per dialect: [0] SQLite, [1] MySQL.
$(BUILD)/gen/mlmd_sql.c: $(MLMD_SQL) scripts/embed-sql
	@mkdir -p $(dir $@)
	$(Q)./scripts/embed-sql av_store__mlmd_sql $(MLMD_SQL) > $@

# Templates and static files ship inside the binary too.
$(BUILD)/gen/assets.c: $(ASSETS) scripts/embed-files
	@mkdir -p $(dir $@)
	$(Q)./scripts/embed-files av_web__assets $(ASSETS) > $@

$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo '  CC      $<')
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/libaviary.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(Q)rm -f $@
	$(Q)ar rcs $@ $^

$(BUILD)/aviary: $(CLI_OBJ) $(BUILD)/libaviary.a
	@$(if $(Q),echo '  LINK    $@')
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/libaviary.a $(LDLIBS)

TEST_LIB := $(BUILD)/obj/tests/harness.o $(BUILD)/obj/tests/http.o

$(BUILD)/tests/%: tests/%.c $(TEST_LIB) $(BUILD)/libaviary.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo '  LINK    $@')
	$(Q)$(CC) $(ALL_CFLAGS) -Itests -o $@ $< $(TEST_LIB) $(BUILD)/libaviary.a $(LDLIBS)

$(BUILD)/bench/%: bench/%.c $(BUILD)/libaviary.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo '  LINK    $@')
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libaviary.a $(LDLIBS)

tests-bin: $(BUILD)/aviary $(TEST_BIN)

# The whole suite: set-up (idempotent), then the plain build's tests, then
# the sanitizer build's; one summary line at the end (scripts/run-tests).
test check:
	./scripts/setup
	$(MAKE) -j2 tests-bin
	$(MAKE) -j2 BUILD=build-asan OPT=-O1 \
	    CFLAGS="-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer" tests-bin
	./scripts/run-tests build build-asan

asan:
	$(MAKE) -j2 BUILD=build-asan OPT=-O1 \
	    CFLAGS="-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer" tests-bin
	./scripts/run-tests build-asan

run:
	./scripts/setup
	$(MAKE) all
	./$(BUILD)/aviary serve --port 8080

bench: $(BENCH_BIN)

# Throughput through nginx with 1 vs 2 web nodes and model servers (loopback,
# ~3 min; figures only). Needs scripts/setup's nginx and mariadb-server.
bench-scaleout: $(BUILD)/aviary $(BUILD)/bench/bench_web
	AVIARY_BIN=$(BUILD)/aviary AVIARY_BENCH_WEB=$(BUILD)/bench/bench_web ./bench/scaleout.sh

# libFuzzer targets need clang; each links the library built with the
# fuzzer's instrumentation in its own build folder.
fuzz:
	$(MAKE) BUILD=build-fuzz CC=clang OPT=-O1 \
	    CFLAGS="-O1 -g -fsanitize=fuzzer-no-link,address,undefined" fuzz-bin

fuzz-bin: $(FUZZ_BIN)

# Without --exclude-libs,ALL: it would also hide clang's static ASan
# runtime, so shared libraries (jansson) would allocate with glibc's malloc
# what our code frees with ASan's (a false bad-free). The archive is named
# in --exclude-libs instead, as the note at LDLIBS wants.
$(BUILD)/fuzz/%: fuzz/%.c $(BUILD)/libaviary.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $< $(BUILD)/libaviary.a \
	    -Wl,--exclude-libs,libaviary.a $(filter-out -Wl$(comma)--exclude-libs$(comma)ALL,$(LDLIBS))

setup:
	./scripts/setup

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
