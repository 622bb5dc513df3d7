#!/usr/bin/env bash
# docs/deploy/nginx.conf, run: Debian's nginx with that file (ports, certificate and
# upstreams put in by sed) in front of two labinov instances sharing a PostgreSQL database
# made for this run and the shared Redis (a channel prefix of their own), each trusting the
# proxy (--trusted-proxies 127.0.0.1/32); tests/deploy/check.mjs then runs through it. All on
# 127.0.0.1, on free ports; everything started here is stopped and removed on exit.
#
#   LABINOV_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
#   LABINOV_TEST_REDIS_URL=redis://127.0.0.1:6379 LABINOV_BIN=target/dist/labinov \
#     tests/deploy/nginx.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

bin=$(realpath "${LABINOV_BIN:-target/dist/labinov}")
admin_url=${LABINOV_TEST_DATABASE_URL:?set LABINOV_TEST_DATABASE_URL to a PostgreSQL database the user may CREATE DATABASE from}
redis_url=${LABINOV_TEST_REDIS_URL:-redis://127.0.0.1:6379}
rate_limit=30
secret="nginx check secret, 32 bytes or more, not for use"
[ -x "$bin" ] || { echo "no labinov binary at $bin (set LABINOV_BIN)" >&2; exit 1; }

if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  echo "installing Debian's nginx (its own service is not started)"
  export DEBIAN_FRONTEND=noninteractive
  # policy-rc.d answers 101: no package may start a service during this install.
  made_policy=false
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    made_policy=true
  fi
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends nginx >/dev/null
  if $made_policy; then rm -f /usr/sbin/policy-rc.d; fi
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

work=$(mktemp -d)
database="labinov_test_db_nginx_$$"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  psql "$admin_url" -q -c "DROP DATABASE IF EXISTS $database WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_ready() { # wait_ready URL PID LOG
  for _ in $(seq 60); do
    if curl -fsk "$1/readyz" >/dev/null 2>&1; then return 0; fi
    kill -0 "$2" 2>/dev/null || { cat "$3"; echo "process $2 exited" >&2; return 1; }
    sleep 0.5
  done
  cat "$3"; echo "$1 never became ready" >&2; return 1
}

psql "$admin_url" -q -c "CREATE DATABASE $database" >/dev/null
database_url="${admin_url%/*}/$database"

echo "a self-signed certificate for 127.0.0.1"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=127.0.0.1" \
  -addext "subjectAltName=IP:127.0.0.1" \
  -keyout "$work/labinov.key" -out "$work/labinov.pem" 2>/dev/null

instances=()
for n in 1 2; do
  port=$(free_port)
  env -i PATH=/usr/bin:/bin \
    DATABASE_URL="$database_url" \
    REDIS_URL="$redis_url" \
    REDIS_CHANNEL_PREFIX="labinov_nginx_$$:" \
    LABINOV_JWT_SECRET="$secret" \
    LABINOV_LISTEN="127.0.0.1:$port" \
    LABINOV_TRUSTED_PROXIES=127.0.0.1/32 \
    LABINOV_RATE_LIMIT_PER_IP=$rate_limit \
    RUST_LOG=warn \
    "$bin" serve >"$work/instance-$n.log" 2>&1 &
  pid=$!
  pids+=("$pid")
  # One after the other: the first migrates the new database.
  wait_ready "http://127.0.0.1:$port" "$pid" "$work/instance-$n.log"
  instances+=("127.0.0.1:$port=$pid")
  echo "instance $n: 127.0.0.1:$port (pid $pid)"
done

tls_port=$(free_port)
plain_port=$(free_port)
port1=${instances[0]%%=*}; port1=${port1#*:}
port2=${instances[1]%%=*}; port2=${port2#*:}
# The documented file, with this run's ports and certificate; each location also names the
# upstream that answered, so the check knows which instance to stop.
sed -e "s|server 127.0.0.1:8080 |server 127.0.0.1:$port1 |" \
    -e "s|server 127.0.0.1:8081 |server 127.0.0.1:$port2 |" \
    -e "s|listen 443 ssl http2;|listen 127.0.0.1:$tls_port ssl http2;|" \
    -e "s|listen 80;|listen 127.0.0.1:$plain_port;|" \
    -e "/listen \[::\]/d" \
    -e "s|ssl_certificate .*;|ssl_certificate $work/labinov.pem;|" \
    -e "s|ssl_certificate_key .*;|ssl_certificate_key $work/labinov.key;|" \
    -e "s|proxy_pass http://labinov;|proxy_pass http://labinov; add_header X-Labinov-Upstream \$upstream_addr always;|" \
    docs/deploy/nginx.conf >"$work/labinov.conf"
grep -q "127.0.0.1:$port1" "$work/labinov.conf" && grep -q "127.0.0.1:$tls_port ssl" "$work/labinov.conf" \
  || { echo "the sed patterns no longer match docs/deploy/nginx.conf" >&2; exit 1; }
mkdir -p "$work/tmp"
cat >"$work/nginx.conf" <<CONF
user root;
worker_processes 1;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 512; }
http {
    access_log $work/nginx-access.log;
    client_body_temp_path $work/tmp/body;
    proxy_temp_path $work/tmp/proxy;
    fastcgi_temp_path $work/tmp/fastcgi;
    uwsgi_temp_path $work/tmp/uwsgi;
    scgi_temp_path $work/tmp/scgi;
    include $work/labinov.conf;
}
CONF
"$nginx_bin" -t -q -c "$work/nginx.conf" -p "$work" -e "$work/nginx-error.log"
"$nginx_bin" -c "$work/nginx.conf" -p "$work" -e "$work/nginx-error.log" &
pids+=("$!")
wait_ready "https://127.0.0.1:$tls_port" "$!" "$work/nginx-error.log"
echo "nginx: https://127.0.0.1:$tls_port, http://127.0.0.1:$plain_port"
redirect=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$plain_port/")
[ "$redirect" = 301 ] || { echo "plain HTTP answered $redirect, not a redirect to HTTPS" >&2; exit 1; }

token=$(env -i LABINOV_JWT_SECRET="$secret" "$bin" token issue --role ADMIN --subject "nginx check" --ttl 10m | tail -n1)
(cd tests/deploy && npm install --no-audit --no-fund --loglevel=error >/dev/null)
status=0
BASE="https://127.0.0.1:$tls_port" TOKEN="$token" RATE_LIMIT=$rate_limit \
  INSTANCES="$(IFS=,; echo "${instances[*]}")" NODE_EXTRA_CA_CERTS="$work/labinov.pem" \
  node tests/deploy/check.mjs || status=$?
if [ "$status" != 0 ]; then
  for log in "$work"/instance-*.log "$work/nginx-error.log"; do
    echo "--- $log"; tail -n 40 "$log"
  done
fi
exit "$status"
