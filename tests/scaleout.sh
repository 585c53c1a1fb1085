#!/usr/bin/env bash
# tests/scaleout.sh - the scaled-out topology on loopback, real servers:
# one MariaDB (scripts/mariadb), 2 `aviary model-server` behind nginx, 2
# `aviary serve` behind nginx, all web nodes on the one database. Checks
# that state lives only in the database: uploads, votes and results pages
# are the same from either node; then a load loop through the balancer while
# one web node and one model server stop: every upload either got a clean
# HTTP error (retryable) or is stored and analysed. Installs nothing
# (scripts/setup does). Ends with "scaleout: N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")/.."

BIN=${AVIARY_BIN:-build/aviary}
IMG1=${AVIARY_SHARED:-../shared}/testdata/images/parrot.jpg
IMG2=${AVIARY_SHARED:-../shared}/testdata/images/kite_and_cold.jpg
LOAD_N=${AVIARY_SCALEOUT_UPLOADS:-60}
passed=0 failed=0 skipped=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1${2:+: $2}"; failed=$((failed + 1)); }
skip() { echo "SKIP $1${2:+: $2}"; skipped=$((skipped + 1)); }
summary() { echo "scaleout: $passed passed, $failed failed, $skipped skipped"; }

NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if [ ! -x "$NGINX" ] || ! { command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ]; } ||
   [ ! -x "$BIN" ] || [ ! -f models/human/nanodet.bin ] || [ ! -f "$IMG1" ]; then
  skip scaleout "needs nginx, mariadb-server, $BIN, fetched models and $IMG1 (run scripts/setup, make)"
  summary; exit 0
fi

TMP=$(mktemp -d /tmp/aviary-scaleout.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  sleep 0.3
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  AVIARY_MARIADB_DIR=$TMP/mariadb scripts/mariadb stop >/dev/null 2>&1
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

. scripts/lib-loopback.sh # port_free, free_port, wait_http

# --- database
DB=$(AVIARY_MARIADB_DIR=$TMP/mariadb scripts/mariadb start 2>"$TMP/mariadb.err") ||
  { fail mariadb_start "$(tail -n 3 "$TMP/mariadb.err")"; summary; exit 1; }
DB="$DB&pool=8"
if "$BIN" db init --db "$DB" --log-level warn >"$TMP/dbinit.log" 2>&1; then pass db_init
else fail db_init "$(tail -n 2 "$TMP/dbinit.log")"; summary; exit 1; fi

# --- model servers, web nodes, nginx
for v in M1 M2 MLB W1 W2 WLB; do free_port "$v"; done
for p in $M1 $M2; do
  "$BIN" model-server --listen 127.0.0.1 --port "$p" --models models --threads 1 \
    --log-level warn >"$TMP/model-$p.log" 2>&1 &
  PIDS+=($!)
done
MPID1=${PIDS[0]}
mkdir -p "$TMP/nginx/tmp" "$TMP/webA" "$TMP/webB"
user_line=""; [ "$(id -u)" -eq 0 ] && user_line="user root;"
cat >"$TMP/nginx/nginx.conf" <<EOF
$user_line
worker_processes 1;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;
events { worker_connections 512; }
http {
  access_log $TMP/nginx/access.log;
  client_body_temp_path $TMP/nginx/tmp/body;
  proxy_temp_path $TMP/nginx/tmp/proxy;
  fastcgi_temp_path $TMP/nginx/tmp/fastcgi;
  uwsgi_temp_path $TMP/nginx/tmp/uwsgi;
  scgi_temp_path $TMP/nginx/tmp/scgi;
  proxy_http_version 1.1;
  proxy_set_header Connection "";
  proxy_connect_timeout 2s;
  proxy_read_timeout 60s;
  upstream aviary_web { server 127.0.0.1:$W1 max_fails=1 fail_timeout=10s;
                        server 127.0.0.1:$W2 max_fails=1 fail_timeout=10s; keepalive 16; }
  upstream aviary_model { server 127.0.0.1:$M1 max_fails=1 fail_timeout=10s;
                          server 127.0.0.1:$M2 max_fails=1 fail_timeout=10s; keepalive 16; }
  server {
    listen 127.0.0.1:$WLB;
    client_max_body_size 31m;            # --max-upload-mb 30 plus multipart framing
    location / {
      proxy_pass http://aviary_web;
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_next_upstream error timeout http_502 http_503;
      proxy_next_upstream_tries 2;
    }
  }
  server {
    listen 127.0.0.1:$MLB;
    client_max_body_size 42m;            # b64 of a 30 MB upload plus 1 MiB
    location / {
      proxy_pass http://aviary_model;
      # predict is idempotent: retry it on the other model server even
      # when the first one died after the request was sent
      proxy_next_upstream error timeout http_502 http_503 non_idempotent;
      proxy_next_upstream_tries 2;
    }
  }
}
EOF
"$NGINX" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -e "$TMP/nginx/error.log" \
  -g 'daemon off;' >"$TMP/nginx/stdout.log" 2>&1 &
PIDS+=($!)
for p in $W1 $W2; do
  d=$TMP/webA; [ "$p" = "$W2" ] && d=$TMP/webB
  "$BIN" serve --listen 127.0.0.1 --port "$p" --data "$d" --db "$DB" \
    --model-url "http://127.0.0.1:$MLB" --workers 4 --log-level warn >"$TMP/web-$p.log" 2>&1 &
  PIDS+=($!)
done
WPID1=${PIDS[3]}
up=1
for u in "http://127.0.0.1:$M1/readyz" "http://127.0.0.1:$M2/readyz" \
         "http://127.0.0.1:$W1/healthz" "http://127.0.0.1:$W2/healthz" \
         "http://127.0.0.1:$WLB/healthz" "http://127.0.0.1:$MLB/readyz"; do
  wait_http "$u" 30 || { up=0; fail topology_up "$u does not answer"; }
done
if [ $up -ne 1 ]; then tail -n 5 "$TMP"/*.log "$TMP/nginx/error.log"; summary; exit 1; fi
pass topology_up

A=http://127.0.0.1:$W1 B=http://127.0.0.1:$W2 LB=http://127.0.0.1:$WLB

# --- an upload through the balancer is visible from either node
out=$(curl -s --max-time 60 -F "file=@$IMG1" "$LB/api/v1/images")
ID=$(echo "$out" | grep -oE '"id":"[0-9a-f]+"' | head -n 1 | cut -d'"' -f4)
if [ -n "$ID" ]; then pass upload_through_balancer; else fail upload_through_balancer "$out"; fi
ja=$(curl -s --max-time 60 "$A/api/v1/images/$ID")
jb=$(curl -s --max-time 60 "$B/api/v1/images/$ID")
if [[ "$ja" == *'"status":"done"'* ]] && [ "$ja" = "$jb" ]; then pass api_same_on_both_nodes
else fail api_same_on_both_nodes "A: ${ja:0:200} B: ${jb:0:200}"; fi

# --- the results page is byte-identical from either node
curl -s --max-time 60 -o "$TMP/resA.html" "$A/uploads/$ID"
curl -s --max-time 60 -o "$TMP/resB.html" "$B/uploads/$ID"
if [ -s "$TMP/resA.html" ] && cmp -s "$TMP/resA.html" "$TMP/resB.html"; then pass results_page_identical
else fail results_page_identical "$(diff "$TMP/resA.html" "$TMP/resB.html" | head -n 6)"; fi

# --- the image files behind that page: a node that did not take the upload
# or run the analysis fetches the original from the store and re-draws the
# annotated image from the stored detections; the bytes must be the same
for f in "originals/$ID.jpg" "inferenced/$ID.jpg"; do
  ca=$(curl -s -o "$TMP/fA" -w '%{http_code}' "$A/$f") cb=$(curl -s -o "$TMP/fB" -w '%{http_code}' "$B/$f")
  if [ "$ca" = 200 ] && [ "$cb" = 200 ] && cmp -s "$TMP/fA" "$TMP/fB"; then pass "file_on_both_nodes ${f%%/*}"
  else fail "file_on_both_nodes ${f%%/*}" "A=$ca B=$cb $(cmp "$TMP/fA" "$TMP/fB" 2>&1 | head -n 1)"; fi
done

# --- a vote on node A shows on node B's monitor page
votes() { curl -s --max-time 30 "$1/monitor" | grep -oE 'Feedback votes</span><span class="v">[0-9]+' | grep -oE '[0-9]+$'; }
v0=$(votes "$B")
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 --data 'vote=no&ground_truth=3&predicted=1' "$A/uploads/$ID")
v1=$(votes "$B")
if [ "$code" = 303 ] || [ "$code" = 302 ] || [ "$code" = 200 ]; then
  if [ -n "$v0" ] && [ "$v1" = $((v0 + 1)) ]; then pass vote_on_A_seen_on_B
  else fail vote_on_A_seen_on_B "votes on B before=$v0 after=$v1"; fi
else fail vote_on_A_seen_on_B "vote answered HTTP $code"; fi
curl -s --max-time 30 -o "$TMP/monA.html" "$A/monitor"; curl -s --max-time 30 -o "$TMP/monB.html" "$B/monitor"
if cmp -s "$TMP/monA.html" "$TMP/monB.html"; then pass monitor_page_identical
else fail monitor_page_identical "$(diff "$TMP/monA.html" "$TMP/monB.html" | head -n 6)"; fi

# --- a video through the balancer: web nodes send photos to the model servers
# but analyse videos with their own models; the result is the same on both
if command -v ffmpeg >/dev/null; then
  ffmpeg -loglevel error -loop 1 -framerate 10 -t 2 -i "$IMG1" -vf "scale=320:-2,format=yuv420p" \
    -c:v libx264 -preset ultrafast "$TMP/clip.mp4" </dev/null
  out=$(curl -s --max-time 60 -F "file=@$TMP/clip.mp4;type=video/mp4" "$LB/api/v1/images")
  VID=$(echo "$out" | grep -oE '"id":"[0-9a-f]+"' | head -n 1 | cut -d'"' -f4)
  va='' vb=''
  for _ in $(seq 1 120); do
    va=$(curl -s --max-time 30 "$A/api/v1/images/$VID")
    [[ "$va" == *'"status":"done"'* || "$va" == *'"status":"failed"'* ]] && break
    sleep 0.5
  done
  vb=$(curl -s --max-time 30 "$B/api/v1/images/$VID")
  if [ -n "$VID" ] && [[ "$va" == *'"kind":"video"'* ]] && [[ "$va" == *'"status":"done"'* ]] &&
     [[ "$va" == *'"visits":[{'* ]] && [ "$va" = "$vb" ]; then pass video_through_balancer
  else fail video_through_balancer "upload: ${out:0:160} A: ${va:0:200}"; fi
else
  skip video_through_balancer "ffmpeg not installed"
fi

# --- load loop: stop web node A and model server 1 midway
: >"$TMP/load.txt"
upload_one() { # index
  local img=$IMG1 t0 code body
  [ $(($1 % 2)) -eq 1 ] && img=$IMG2
  t0=$(date +%s.%N)
  code=$(curl -s -o "$TMP/up.$1" -w '%{http_code}' --max-time 90 -F "file=@$img" "$LB/api/v1/images")
  body=$(grep -oE '"id":"[0-9a-f]+"' "$TMP/up.$1" 2>/dev/null | head -n 1 | cut -d'"' -f4)
  echo "$1 $t0 $code ${body:--}" >>"$TMP/load.txt"
}
LPIDS=()
t_start=$(date +%s.%N)
for i in $(seq 1 "$LOAD_N"); do
  upload_one "$i" & LPIDS+=($!)
  sleep 0.5
  if [ "$i" -eq $((LOAD_N / 3)) ]; then kill -TERM "$WPID1"; t_web=$(date +%s.%N); echo "stopped web node A at upload $i"; fi
  if [ "$i" -eq $((LOAD_N / 2)) ]; then kill -KILL "$MPID1"; t_model=$(date +%s.%N); echo "killed model server 1 at upload $i"; fi
done
for p in "${LPIDS[@]}"; do wait "$p"; done
t_end=$(date +%s.%N)
stored=0 clean=0 bad=0 after_ok=0 after_n=0
while read -r i t0 code id; do
  case "$code" in
    201)
      j=$(curl -s --max-time 90 "$B/api/v1/images/$id")
      if [[ "$j" == *'"status":"done"'* ]]; then stored=$((stored + 1))
      else bad=$((bad + 1)); echo "upload $i: stored as $id but ${j:0:200}"; fi ;;
    429|502|503|504) clean=$((clean + 1)); echo "upload $i: HTTP $code (retryable)" ;;
    *) bad=$((bad + 1)); echo "upload $i: HTTP $code $(head -c 200 "$TMP/up.$i" 2>/dev/null)" ;;
  esac
  if awk -v a="$t0" -v b="$t_model" 'BEGIN{exit !(a > b + 1)}'; then
    after_n=$((after_n + 1)); [ "$code" = 201 ] && after_ok=$((after_ok + 1))
  fi
done < <(sort -n "$TMP/load.txt")
n=$(wc -l <"$TMP/load.txt")
echo "load: $n uploads in $(awk -v a="$t_start" -v b="$t_end" 'BEGIN{printf "%.1f", b - a}') s: $stored stored and analysed, $clean clean retryable errors, $bad lost or broken"
if [ "$n" -eq "$LOAD_N" ] && [ "$bad" -eq 0 ]; then pass load_no_upload_lost; else fail load_no_upload_lost "$bad bad of $n"; fi
if [ "$after_n" -gt 0 ] && [ "$after_ok" -eq "$after_n" ]; then pass load_failover_after_stops
else fail load_failover_after_stops "$after_ok of $after_n uploads after both stops stored"; fi

summary
[ "$failed" -eq 0 ]
