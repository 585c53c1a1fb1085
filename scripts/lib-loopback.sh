# scripts/lib-loopback.sh - sourced by tests/scaleout.sh and bench/scaleout.sh:
# free loopback ports and waiting for a server to answer.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# below the kernel's ephemeral range (32768-60999 here): a port that a client connection
# holds there answers no connect, yet a server cannot bind it
next_port=$((20000 + RANDOM % 11000))
free_port() { # variable name: set it to the next free loopback port
  while ! port_free "$next_port"; do next_port=$((next_port + 1)); done
  printf -v "$1" '%s' "$next_port"; next_port=$((next_port + 1))
}
wait_http() { # url, seconds: until it answers 200
  for _ in $(seq 1 $(($2 * 10))); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1")" = 200 ] && return 0
    sleep 0.1
  done
  return 1
}
