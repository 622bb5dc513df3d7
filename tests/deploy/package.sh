#!/usr/bin/env bash
# The Debian package, as an operator meets it: builds it with cargo-deb, installs it with dpkg,
# starts the installed binary exactly as labinov.service would (its user, working directory,
# environment files and ExecStart, read from the installed unit), checks /readyz, takes a
# backup as labinov-backup.service would, stops the server, removes the package (the data
# stays) and purges it (the data goes). Needs root, as CI runs. Leaves nothing behind.
#
#   tests/deploy/package.sh            # the package as docs/deploy.md builds it (profile dist)
#   LABINOV_DEB_PROFILE=dev tests/deploy/package.sh   # the same package from the debug build
#                                                     # the tests made (what CI runs)
set -euo pipefail
cd "$(dirname "$0")/../.."

profile=${LABINOV_DEB_PROFILE:-dist}
work=$(mktemp -d)
server_pid=""

cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if dpkg-query -W -f='${Status}' labinov 2>/dev/null | grep -qv 'not-installed'; then
    dpkg --purge labinov >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "package check failed: $*" >&2; exit 1; }

command -v cargo-deb >/dev/null 2>&1 || cargo install cargo-deb --locked
[ "$(id -u)" = 0 ] || fail "run as root (dpkg -i)"
# A package left installed by a run that was killed.
if dpkg-query -W -f='${Status}' labinov 2>/dev/null | grep -q 'install ok'; then
  dpkg --purge labinov >/dev/null
fi

echo "building the package (cargo deb --profile $profile)"
cargo deb --profile "$profile" --output "$work/labinov.deb"
dpkg-deb --info "$work/labinov.deb" | sed -n 's/^ \(Package\|Version\|Depends\|Architecture\):/  \1:/p'

echo "installing it"
dpkg -i "$work/labinov.deb"
for file in /usr/bin/labinov /usr/lib/systemd/system/labinov.service \
  /usr/lib/systemd/system/labinov-backup.service /usr/lib/systemd/system/labinov-backup.timer \
  /etc/labinov/labinov.env /usr/share/doc/labinov/README.md /usr/share/doc/labinov/deploy.md; do
  [ -e "$file" ] || fail "$file is not installed"
done
dpkg-query -W -f='${Conffiles}\n' labinov | grep -q '/etc/labinov/labinov.env' \
  || fail "/etc/labinov/labinov.env is not a conffile"
getent passwd labinov >/dev/null || fail "no system user labinov"
[ "$(stat -c '%a %U:%G' /etc/labinov/secret.env)" = "640 root:labinov" ] \
  || fail "secret.env is $(stat -c '%a %U:%G' /etc/labinov/secret.env), not 640 root:labinov"
secret=$(sed -n 's/^LABINOV_JWT_SECRET=//p' /etc/labinov/secret.env)
[ "${#secret}" -ge 64 ] || fail "the generated secret is too short"
[ "$(stat -c '%U:%G' /var/lib/labinov)" = "labinov:labinov" ] || fail "/var/lib/labinov is not labinov's"
if command -v systemd-analyze >/dev/null 2>&1; then
  systemd-analyze verify --man=no /usr/lib/systemd/system/labinov.service \
    /usr/lib/systemd/system/labinov-backup.service /usr/lib/systemd/system/labinov-backup.timer \
    || fail "systemd-analyze finds fault with the units"
fi

# What the unit says, read from the installed file.
unit=/usr/lib/systemd/system/labinov.service
setting() { sed -n "s/^$1=//p" "$2"; }
user=$(setting User "$unit")
group=$(setting Group "$unit")
workdir=$(setting WorkingDirectory "$unit")
exec_start=$(setting ExecStart "$unit")
# The environment: only the files' variables, as systemd gives them (an optional file starts
# with `-`), and a free port in place of the listen address (an operator's drop-in would do
# the same), since this machine may serve 8080 already.
environment=(PATH=/usr/sbin:/usr/bin:/sbin:/bin)
while read -r file; do
  optional=false
  case $file in -*) optional=true; file=${file#-} ;; esac
  if [ ! -e "$file" ]; then
    $optional || fail "EnvironmentFile $file is missing"
    continue
  fi
  while IFS= read -r line; do
    case $line in ''|'#'*) continue ;; esac
    environment+=("$line")
  done <"$file"
done < <(setting EnvironmentFile "$unit")
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
environment+=("LABINOV_LISTEN=127.0.0.1:$port")

echo "starting '$exec_start' as $user:$group in $workdir on port $port"
(
  cd "$workdir"
  # shellcheck disable=SC2086 # ExecStart is a command line
  exec setpriv --reuid="$user" --regid="$group" --init-groups --no-new-privs \
    env -i "${environment[@]}" $exec_start
) >"$work/server.log" 2>&1 &
server_pid=$!
ready=""
for _ in $(seq 60); do
  if ready=$(curl -fsS "http://127.0.0.1:$port/readyz" 2>/dev/null); then break; fi
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log"; fail "the installed server exited"; }
  sleep 1
done
echo "  /readyz: $ready"
echo "$ready" | grep -q '"ready":true' || { cat "$work/server.log"; fail "the installed server is not ready"; }
owner=$(ps -o user= -p "$server_pid" | tr -d " ")
[ "$owner" = labinov ] || fail "the server runs as $owner, not labinov"
[ "$(stat -c '%U' /var/lib/labinov/labinov.db)" = labinov ] || fail "the database is not labinov's"

echo "a backup, as labinov-backup.service takes it"
backup_unit=/usr/lib/systemd/system/labinov-backup.service
backup_start=$(setting ExecStart "$backup_unit" | sed 's/%%/%/g')
(
  cd "$(setting WorkingDirectory "$backup_unit")"
  environment_backup=(PATH=/usr/sbin:/usr/bin:/sbin:/bin)
  while IFS= read -r line; do
    case $line in ''|'#'*) continue ;; esac
    environment_backup+=("$line")
  done </etc/labinov/labinov.env
  eval "exec setpriv --reuid=labinov --regid=labinov --init-groups env -i \"\${environment_backup[@]}\" $backup_start"
)
ls /var/lib/labinov/backups/labinov-*.db >/dev/null 2>&1 || fail "no backup in /var/lib/labinov/backups"
echo "  $(ls /var/lib/labinov/backups)"

echo "stopping it (SIGTERM, as systemctl stop)"
kill -TERM "$server_pid"
wait "$server_pid" || fail "the server did not stop cleanly"
server_pid=""

echo "removing the package: the data and the settings stay"
dpkg -r labinov
[ ! -e /usr/bin/labinov ] || fail "the binary is still there after removal"
[ -e /var/lib/labinov/labinov.db ] || fail "removal took the data"
[ -e /etc/labinov/secret.env ] || fail "removal took the secret"

echo "purging it: the data, the backups and the generated secret go"
dpkg --purge labinov
[ ! -e /var/lib/labinov ] || fail "purge left /var/lib/labinov"
[ ! -e /etc/labinov ] || fail "purge left /etc/labinov"

echo "package check passed"
