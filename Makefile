# Aviary build. Plain GNU make; every library found through pkg-config
# (XNNPACK and pthreadpool ship no .pc file in Debian 12: see XNN_LIBS).
#
#   make            build/aviary
#   make test       set-up, build, every test (plain and ASan+UBSan)
#   make run        set-up, build, serve on :8080
#   make asan       ASan+UBSan build of everything, then its tests
#   make bench      benchmark programs (build/bench/*)
#   make eval       accuracy on ../shared/eval/birds (aviary eval; EVAL_ARGS="--detector centernet")
#   make eval-sites the same with site species lists (scripts/eval-sites)
#   make bench-peers  engine vs ONNX Runtime and TF.js wasm, interleaved (bench/peers.sh)
#   make bench-scaleout  nginx + 2 web + 2 model servers + MariaDB throughput (bench/scaleout.sh)
#   make fuzz       libFuzzer targets (clang)
#   make install    binary, models, man page, systemd units, example config
#                   under PREFIX (default /usr/local), staged under DESTDIR
#   make uninstall  removes what make install put there
#   make deb        build/aviary_VERSION_ARCH.deb (PREFIX=/usr, dpkg-deb)
#   make man        build/aviary.1 from the binary's --help texts

CC      ?= cc
V       ?= 0
Q       := $(if $(filter 1,$(V)),,@)
BUILD   ?= build
PKG_CONFIG ?= pkg-config

# Installation layout (README "Install"). The models folder and the config
# file's path are compiled in (build/gen/paths.c).
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
DATADIR    ?= $(PREFIX)/share/aviary
MANDIR     ?= $(PREFIX)/share/man
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
UNITDIR    ?= $(PREFIX)/lib/systemd/system
INSTALL    ?= install

PKGS     := libmicrohttpd jansson sqlite3 libsodium libturbojpeg libjpeg spng libwebp libexif freetype2 libcurl libcrypto \
            libmariadb libavformat libavcodec libswscale libavutil libmosquitto
XNN_LIBS := -lXNNPACK -lpthreadpool

PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)

OPT      ?= -O2
WARN     := -Wall -Wextra -Werror -Wstrict-prototypes -Wno-missing-field-initializers
CFLAGS   ?= $(OPT) -g
comma := ,
ALL_CFLAGS := -std=c11 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L $(WARN) $(CFLAGS) \
              -Isrc $(PKG_CFLAGS) -MMD -MP
# Fault injection (src/base/fault.h): our malloc/calloc/realloc/strdup/
# fopen/fread go through counters a test can arm to fail the N-th call.
# On by default in the sanitizer build (build-asan), where t_fault runs;
# FAULT=1 or FAULT=0 says so for any build folder.
FAULT    ?= $(if $(findstring asan,$(BUILD)),1,0)
ifeq ($(FAULT),1)
ALL_CFLAGS += -DAV_FAULT -include src/base/fault.h
endif
# --exclude-libs: nothing of libaviary.a is exported, so FFmpeg's own av_log()
# (called inside libavcodec) can never bind to our logging function of that name.
LDLIBS   := -Wl,--exclude-libs,ALL $(PKG_LIBS) $(XNN_LIBS) -lpthread -lm

LIB_SRC   := $(filter-out src/cli/%,$(wildcard src/*/*.c src/nn/*/*.c))
CLI_SRC   := $(wildcard src/cli/*.c)
TEST_SRC  := $(filter-out $(if $(filter 1,$(FAULT)),,tests/t_fault.c),$(wildcard tests/t_*.c))
BENCH_SRC := $(wildcard bench/*.c)
FUZZ_SRC  := $(wildcard fuzz/fuzz_*.c)

SQLITE_SQL := $(sort $(wildcard db/sqlite/*.sql))
MYSQL_SQL  := $(sort $(wildcard db/mysql/*.sql))
MLMD_SQL   := db/mlmd/sqlite.sql db/mlmd/mysql.sql
ASSETS    := $(sort $(wildcard templates/*.html static/*.css static/*.svg static/*.js))
LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/sqlite_migrations.o \
             $(BUILD)/obj/gen/mysql_migrations.o $(BUILD)/obj/gen/mlmd_sql.o \
             $(BUILD)/obj/gen/assets.o $(BUILD)/obj/gen/paths.o
CLI_OBJ   := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TEST_BIN  := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
FUZZ_BIN  := $(FUZZ_SRC:fuzz/%.c=$(BUILD)/fuzz/%)

.PHONY: all test check run asan asan-build bench bench-peers bench-scaleout fuzz setup clean \
        tests-bin install uninstall deb man FORCE eval eval-sites
.DEFAULT_GOAL := all

all: $(BUILD)/aviary

$(BUILD)/obj/%.o: %.c $(BUILD)/gen/fault.flag
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

# The installed paths, rewritten only when PREFIX & co. change (then one
# object is recompiled and the binary relinked).
$(BUILD)/gen/paths.c: FORCE
	@mkdir -p $(dir $@)
	$(Q)case '$(DATADIR)$(SYSCONFDIR)' in *[\"\\]*) echo 'quotes or backslashes in PREFIX' >&2; exit 1;; esac
	$(Q)printf '#include "config/config.h"\nconst char av_config_installed_models[] = "%s";\nconst char av_config_installed_conf[] = "%s";\n' \
	    '$(DATADIR)/models' '$(SYSCONFDIR)/aviary/aviary.conf' > $@.tmp
	$(Q)if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi

# Objects are rebuilt when FAULT changes in a build folder (written only then).
$(BUILD)/gen/fault.flag: FORCE
	@mkdir -p $(dir $@)
	$(Q)echo '$(FAULT)' > $@.tmp
	$(Q)if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi

$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c $(BUILD)/gen/fault.flag
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

# The man page is made from the binary's own --help texts (scripts/gen-man),
# so the two cannot drift.
$(BUILD)/aviary.1: $(BUILD)/aviary scripts/gen-man
	$(Q)./scripts/gen-man $(BUILD)/aviary '$(DATADIR)' '$(SYSCONFDIR)' > $@.tmp && mv $@.tmp $@

man: $(BUILD)/aviary.1

TEST_LIB := $(BUILD)/obj/tests/harness.o $(BUILD)/obj/tests/http.o $(BUILD)/obj/tests/proc.o \
            $(BUILD)/obj/tests/nn_fixture.o $(BUILD)/obj/tests/detect_fixture.o \
            $(BUILD)/obj/tests/serving_fixture.o $(BUILD)/obj/tests/web_fixture.o \
            $(BUILD)/obj/tests/tflite_fixture.o $(BUILD)/obj/tests/camera_fixture.o \
            $(BUILD)/obj/tests/video_fixture.o

$(BUILD)/tests/%: tests/%.c $(TEST_LIB) $(BUILD)/libaviary.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo '  LINK    $@')
	$(Q)$(CC) $(ALL_CFLAGS) -Itests -o $@ $< $(TEST_LIB) $(BUILD)/libaviary.a $(LDLIBS)

$(BUILD)/bench/%: bench/%.c $(BUILD)/libaviary.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo '  LINK    $@')
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libaviary.a $(LDLIBS)

tests-bin: $(BUILD)/aviary $(TEST_BIN)

# Accuracy on the labelled photo set (README "Evaluation"); extra options in EVAL_ARGS.
EVAL_SET ?= ../shared/eval/birds
eval: $(BUILD)/aviary
	$(BUILD)/aviary eval $(EVAL_SET)/manifest.csv $(EVAL_ARGS)

# The same with site species lists per row group (scripts/eval-sites).
eval-sites: $(BUILD)/aviary
	EVAL_SET=$(EVAL_SET) AVIARY_BIN=$(BUILD)/aviary scripts/eval-sites $(EVAL_ARGS)

# The whole suite: set-up (idempotent), then the plain build's tests, then
# the sanitizer build's; one summary line at the end (scripts/run-tests).
test check:
	./scripts/setup --test
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

# Engine vs ONNX Runtime (yolox_nano.onnx) and TF.js wasm (CenterNet, NanoDet), interleaved in
# one run, plus the per-op profile; installs the npm peers into a scratch folder, scripts off.
bench-peers: $(BUILD)/bench/bench_models
	BUILD=$(BUILD) ./bench/peers.sh

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

# deploy/ files name the .deb's paths; installed elsewhere they are rewritten.
INSTALL_SED := -e 's|/usr/bin/aviary|$(BINDIR)/aviary|g' -e 's|/usr/share/aviary|$(DATADIR)|g' \
               -e 's|/etc/aviary|$(SYSCONFDIR)/aviary|g'
UNITS := aviary-web.service aviary-model-server.service

# Templates and static files are compiled into the binary: nothing to install.
# Fetched model files (models/*/) are installed when present; aviary.conf is
# installed only where none is (aviary.conf.example always).
install: all $(BUILD)/aviary.1
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR)/models $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSCONFDIR)/aviary
	$(INSTALL) -m 0755 $(BUILD)/aviary $(DESTDIR)$(BINDIR)/aviary
	$(INSTALL) -m 0644 models/*.json $(wildcard models/*.int8.calib) $(DESTDIR)$(DATADIR)/models/
	@for d in models/*/; do \
	    [ -d "$$d" ] || continue; \
	    echo "$(INSTALL) -m 0644 $$d* $(DESTDIR)$(DATADIR)/$$d"; \
	    $(INSTALL) -d "$(DESTDIR)$(DATADIR)/$$d" && $(INSTALL) -m 0644 "$$d"* "$(DESTDIR)$(DATADIR)/$$d" || exit 1; \
	done
	@[ -f models/human/nanodet.bin ] || echo "install: no fetched models in ./models (scripts/setup --models): aviary will say what to do on first start"
	$(INSTALL) -m 0644 $(BUILD)/aviary.1 $(DESTDIR)$(MANDIR)/man1/aviary.1
	for u in $(UNITS); do sed $(INSTALL_SED) deploy/systemd/$$u > $(DESTDIR)$(UNITDIR)/$$u && \
	    chmod 0644 $(DESTDIR)$(UNITDIR)/$$u || exit 1; done
	sed $(INSTALL_SED) deploy/aviary.conf > $(DESTDIR)$(SYSCONFDIR)/aviary/aviary.conf.example
	chmod 0644 $(DESTDIR)$(SYSCONFDIR)/aviary/aviary.conf.example
	[ -e $(DESTDIR)$(SYSCONFDIR)/aviary/aviary.conf ] || \
	    cp -p $(DESTDIR)$(SYSCONFDIR)/aviary/aviary.conf.example $(DESTDIR)$(SYSCONFDIR)/aviary/aviary.conf
	@echo "installed under $(DESTDIR)$(PREFIX); check it with: aviary doctor (man aviary)"

# Leaves aviary.conf when it was edited, and the data (/var/lib/aviary).
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/aviary $(DESTDIR)$(MANDIR)/man1/aviary.1
	rm -f $(addprefix $(DESTDIR)$(UNITDIR)/,$(UNITS))
	rm -rf $(DESTDIR)$(DATADIR)
	@c=$(DESTDIR)$(SYSCONFDIR)/aviary; \
	if [ -f $$c/aviary.conf ] && ! cmp -s $$c/aviary.conf $$c/aviary.conf.example; then \
	    echo "uninstall: keeping $$c/aviary.conf (edited)"; \
	else rm -f $$c/aviary.conf; fi; \
	rm -f $$c/aviary.conf.example; rmdir $$c 2>/dev/null || true

deb:
	BUILD=$(BUILD) MAKE="$(MAKE)" ./scripts/make-deb

clean:
	rm -rf build build-asan build-fuzz

FORCE:

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
