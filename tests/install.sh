#!/usr/bin/env bash
# tests/install.sh - installing Aviary like a C program, from a clean copy of
# the source tree (tracked and new files, the fetched models, no build):
#   make install DESTDIR=...  lays out the documented tree (README "Install"),
#                             the man page says what `aviary CMD --help` says,
#                             make uninstall removes it all (an edited
#                             aviary.conf stays);
#   make deb                  builds a package that declares its libraries;
#   dpkg -i                   (root, aviary not installed already) creates the
#                             aviary user, enables nothing; the units' ExecStart
#                             run by hand as that user answer /healthz; doctor
#                             passes; dpkg -r leaves only the data and the
#                             conffile, dpkg --purge nothing.
# Ends with "install: N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
passed=0 failed=0 skipped=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1${2:+: $2}"; failed=$((failed + 1)); }
skip() { echo "SKIP $1${2:+: $2}"; skipped=$((skipped + 1)); }
check() { local name=$1; shift; if "$@"; then pass "$name"; else fail "$name"; fi; }
summary() { echo "install: $passed passed, $failed failed, $skipped skipped"; }

TMP=$(mktemp -d /tmp/aviary-install.XXXXXX)
chmod 0755 "$TMP" # the aviary user reads the logs' folder path
PIDS=() INSTALLED=0 MADE_USER=0
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  if [ "$INSTALLED" = 1 ]; then dpkg --purge aviary >/dev/null 2>&1; fi
  if [ "$MADE_USER" = 1 ] && getent passwd aviary >/dev/null; then deluser --system aviary >/dev/null 2>&1; fi
  rm -rf "$TMP"
}
trap cleanup EXIT

free_port() { # first port from $1 nothing listens on
  local p
  for p in $(seq "$1" $(($1 + 200))); do
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
  done
  return 1
}
wait_healthz() { # port, log: up to 30 s for a 200 with "status":"ok"
  local i
  for i in $(seq 1 60); do
    curl -fsS "http://127.0.0.1:$1/healthz" 2>/dev/null | grep -q '"status":"ok"' && return 0
    sleep 0.5
  done
  tail -n 5 "$2"
  return 1
}

# --- a clean tree: what git knows (committed or not, ignored files left out) + fetched models
SRC=$TMP/src
mkdir -p "$SRC"
if git rev-parse --git-dir >/dev/null 2>&1; then
  git ls-files -co --exclude-standard -z | tar --null -T - --ignore-failed-read -cf - 2>/dev/null |
    tar -xf - -C "$SRC"
else
  tar --exclude='./build*' --exclude=node_modules -cf - . | tar -xf - -C "$SRC"
fi
for d in models/*/; do [ -d "$d" ] && cp -r "$d" "$SRC/models/"; done
HAVE_MODELS=0
[ -f "$SRC/models/human/nanodet.bin" ] && HAVE_MODELS=1

# --- make install DESTDIR=... (default PREFIX=/usr/local)
DEST=$TMP/root
if ! make -C "$SRC" -j2 install DESTDIR="$DEST" >"$TMP/install.log" 2>&1; then
  tail -n 20 "$TMP/install.log"; fail make_install; summary; exit 1
fi
pass make_install
P=/usr/local
{
  printf '%s\n' $P/bin/aviary $P/etc/aviary/aviary.conf $P/etc/aviary/aviary.conf.example \
    $P/lib/systemd/system/aviary-web.service $P/lib/systemd/system/aviary-model-server.service \
    $P/share/man/man1/aviary.1
  (cd "$SRC" && find models -type f ! -name '.*' | sed "s|^|$P/share/aviary/|")
} | sort > "$TMP/want"
(cd "$DEST" && find . -type f | sed "s|^\.||" | sort) > "$TMP/got"
if diff -u "$TMP/want" "$TMP/got" > "$TMP/tree.diff"; then pass install_tree
else cat "$TMP/tree.diff"; fail install_tree "differs from the documented tree"; fi
UNIT=$DEST$P/lib/systemd/system/aviary-web.service
check units_name_installed_paths grep -q "^ExecStart=/usr/local/bin/aviary serve --config /usr/local/etc/aviary/aviary.conf$" "$UNIT"
check units_no_deb_paths bash -c "[ -f '$UNIT' ] && ! grep -q '/usr/bin/\|/usr/share/aviary\|[^l]/etc/aviary' '$UNIT'"
check binary_names_installed_models bash -c "'$DEST$P/bin/aviary' --help | grep -q '/usr/local/share/aviary/models'"

# the man page: one section per command of `aviary --help`, each saying what
# `aviary CMD --help` says, line for line
BIN=$DEST$P/bin/aviary
if command -v man >/dev/null; then
  page=$(LC_ALL=C MANWIDTH=250 man --warnings=w -l "$DEST$P/share/man/man1/aviary.1" 2>"$TMP/man.err" | col -bx)
  [ -s "$TMP/man.err" ] && { cat "$TMP/man.err"; fail man_renders "groff warnings"; } || pass man_renders
  norm() { sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' -e '/^$/d'; }
  missing="" n=0
  for c in $("$BIN" --help | awk '/^commands:/{on=1; next} on && /^$/{exit} on {print $1}' | grep -vxE 'version|help'); do
    section=$(awk -v h="aviary $c" '$0 ~ "^   "h"$" {on=1; next} on && /^   [^ ]/ {exit} on && /^[A-Z]/ {exit} on' <<<"$page" | norm)
    n=$((n + 1))
    [ "$("$BIN" "$c" --help | norm)" = "$section" ] || missing="$missing $c"
  done
  [ -z "$missing" ] && [ "$n" -ge 7 ] && pass man_matches_help || fail man_matches_help "sections differ from --help:$missing"
else skip man_renders "man not installed"; skip man_matches_help "man not installed"; fi

# make uninstall: nothing left but an edited aviary.conf
echo "port = 8090" >> "$DEST$P/etc/aviary/aviary.conf"
make -C "$SRC" -s uninstall DESTDIR="$DEST" >"$TMP/uninstall.log" 2>&1
left=$(cd "$DEST" && find . -type f | sed "s|^\.||" | sort | tr '\n' ' ')
check uninstall_keeps_only_edited_conf test "$left" = "$P/etc/aviary/aviary.conf "
rm -f "$DEST$P/etc/aviary/aviary.conf"

# --- make deb
if [ "$HAVE_MODELS" = 0 ] || ! command -v dpkg-shlibdeps >/dev/null; then
  skip make_deb "needs the fetched models and dpkg-dev (scripts/setup --test)"; summary; exit 0
fi
if ! deb=$(make -C "$SRC" -s deb 2>"$TMP/deb.err" | tail -n 1) || [ ! -f "$SRC/$deb" ]; then
  cat "$TMP/deb.err"; fail make_deb; summary; exit 1
fi
deb=$SRC/$deb
pass make_deb
dep=$(dpkg-deb -f "$deb" Depends)
check deb_declares_libraries bash -c "grep -q 'libxnnpack0' <<<'$dep' && grep -q 'libmicrohttpd12' <<<'$dep' && grep -q adduser <<<'$dep'"
dpkg-deb -c "$deb" | awk '{print $6}' > "$TMP/deb.list"
check deb_contents bash -c "grep -qx './usr/bin/aviary' '$TMP/deb.list' && grep -qx './usr/share/man/man1/aviary.1.gz' '$TMP/deb.list' &&
  grep -qx './usr/lib/systemd/system/aviary-web.service' '$TMP/deb.list' && grep -qx './etc/aviary/aviary.conf' '$TMP/deb.list' &&
  grep -qx './usr/share/aviary/models/human/nanodet.bin' '$TMP/deb.list'"

# --- dpkg -i, run, dpkg -r, dpkg --purge (a throwaway machine's root only)
if [ "$(id -u)" != 0 ]; then skip dpkg_install "needs root"; summary; [ "$failed" -eq 0 ]; exit; fi
if dpkg-query -W -f='${Status}' aviary 2>/dev/null | grep -q 'installed'; then
  skip dpkg_install "a package aviary is installed already: left alone"; summary; [ "$failed" -eq 0 ]; exit
fi
getent passwd aviary >/dev/null || MADE_USER=1
if ! dpkg -i "$deb" >"$TMP/dpkg.log" 2>&1; then cat "$TMP/dpkg.log"; fail dpkg_install; summary; exit 1; fi
INSTALLED=1
pass dpkg_install
check system_user_created bash -c "getent passwd aviary | grep -q ':/var/lib/aviary:' && [ \"\$(stat -c %U /var/lib/aviary)\" = aviary ]"
check nothing_enabled bash -c "! ls /etc/systemd/system/*.wants/aviary* >/dev/null 2>&1"
dpkg -L aviary | sort > "$TMP/files"

unit_line() { sed -n "s/^$2=//p" "/usr/lib/systemd/system/$1" | tail -n 1; }
run_unit() { # unit, port, log: its ExecStart as its User in its WorkingDirectory, on port
  local cmd user wd
  cmd=$(unit_line "$1" ExecStart) user=$(unit_line "$1" User) wd=$(unit_line "$1" WorkingDirectory)
  (cd "$wd" && exec runuser -u "$user" -- $cmd --port "$2") >"$3" 2>&1 &
  PIDS+=($!)
}
WEB_PORT=$(free_port 18480) && run_unit aviary-web.service "$WEB_PORT" "$TMP/web.log"
check web_unit_answers_healthz wait_healthz "$WEB_PORT" "$TMP/web.log"
check web_uses_installed_models grep -q 'event=models_dir dir=/usr/share/aviary/models from=installed' "$TMP/web.log"
check web_data_in_var_lib test -f /var/lib/aviary/aviary.db
MS_PORT=$(free_port $((WEB_PORT + 1))) && run_unit aviary-model-server.service "$MS_PORT" "$TMP/ms.log"
check model_server_unit_answers_healthz wait_healthz "$MS_PORT" "$TMP/ms.log"
# doctor as the service user, with the installed config; the web app is
# running, so its port counts as fine
check doctor_passes bash -c "cd / && runuser -u aviary -- aviary doctor --port $WEB_PORT >'$TMP/doctor.log' 2>&1 || { cat '$TMP/doctor.log'; false; }"
check doctor_fails_on_bad_data bash -c "! runuser -u aviary -- aviary doctor --port $WEB_PORT --data /root/nope >/dev/null 2>&1"
for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
PIDS=()

dpkg -r aviary >"$TMP/dpkg.log" 2>&1 || { cat "$TMP/dpkg.log"; fail dpkg_remove; }
left=""
while read -r f; do
  [ "$f" = /etc/aviary/aviary.conf ] && continue # a conffile: kept until purge
  [ -f "$f" ] && left="$left $f"
done < "$TMP/files"
[ -d /usr/share/aviary ] && left="$left /usr/share/aviary"
check dpkg_remove_leaves_no_files test -z "$left"
check dpkg_remove_keeps_data test -f /var/lib/aviary/aviary.db
dpkg --purge aviary >"$TMP/dpkg.log" 2>&1 || { cat "$TMP/dpkg.log"; fail dpkg_purge; }
INSTALLED=0
check dpkg_purge_removes_data_and_config bash -c "[ ! -e /var/lib/aviary ] && [ ! -e /etc/aviary ]"
summary
[ "$failed" -eq 0 ]
