#!/usr/bin/env bash
# `leukocrypt clinic` as a process: refuses a non-loopback address without --allow-remote (exit 1,
# one line), prints and writes its address with the access token, answers it, stops on SIGTERM.
set -euo pipefail
LC="$1"
dir=$(mktemp -d)
trap '[ "$pid" -gt 0 ] && kill "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
pid=0
fail() { echo "FAIL: $*" >&2; exit 1; }

set +e
out=$("$LC" clinic --host 0.0.0.0 --port 0 --data-dir "$dir/d" 2>&1); rc=$?
set -e
[ "$rc" -eq 1 ] || fail "non-loopback host: exit $rc, expected 1 ($out)"
echo "$out" | grep -q -- "--allow-remote" || fail "non-loopback host: message does not name --allow-remote: $out"
[ "$(echo "$out" | wc -l)" -eq 1 ] || fail "non-loopback host: more than one line: $out"

"$LC" clinic --port 0 --data-dir "$dir/d" --url-file "$dir/url" > "$dir/log" 2>&1 &
pid=$!
for _ in $(seq 100); do [ -s "$dir/url" ] && break; sleep 0.1; done
[ -s "$dir/url" ] || fail "no --url-file after 10 s: $(cat "$dir/log")"
url=$(cat "$dir/url")
[[ "$url" =~ ^http://127\.0\.0\.1:[0-9]+/\?token=[0-9a-f]{32}$ ]] || fail "address '$url'"
grep -qF "$url" "$dir/log" || fail "the address is not printed"
[ "$(stat -c %a "$dir/url")" = 600 ] || fail "--url-file mode $(stat -c %a "$dir/url")"
[ "$(stat -c %a "$dir/d")" = 700 ] || fail "data dir mode $(stat -c %a "$dir/d")"
code=$(curl -s -o /dev/null -w '%{http_code}' "$url")
[ "$code" = 303 ] || fail "GET with the token: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' "${url%token=*}token=00000000000000000000000000000000")
[ "$code" = 403 ] || fail "GET with a wrong token: $code"
kill -TERM "$pid"
for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "still running 5 s after SIGTERM"
wait "$pid" || fail "exit status $? after SIGTERM"
pid=0
echo "ok"
