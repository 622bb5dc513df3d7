#!/usr/bin/env bash
# Runs the graphql-http audit (the GraphQL-over-HTTP spec's MUSTs, SHOULDs and MAYs) against a
# running server: scripts/graphql-http-audit.sh http://127.0.0.1:8080/graphql
# The audit sends anonymous queries, so start the server with LABINOV_ANONYMOUS_ACCESS=read.
# Needs Node.js and npm; installs graphql-http into a temporary directory.
set -euo pipefail
url=${1:-http://127.0.0.1:8080/graphql}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
npm init -y >/dev/null
npm install --silent graphql-http@1 graphql@16 >/dev/null
cat > audit.mjs <<'JS'
import { auditServer } from 'graphql-http';
const results = await auditServer({ url: process.argv[2] });
let failed = 0, notices = 0;
for (const r of results) {
  if (r.status === 'ok') continue;
  if (r.status === 'notice') notices++; else failed++;
  console.log(r.status.toUpperCase(), r.name, '-', r.reason);
}
console.log(`${results.length} audits: ${results.length - failed - notices} ok, ${notices} notices (MAY), ${failed} failed`);
process.exit(failed ? 1 : 0);
JS
node audit.mjs "$url"
