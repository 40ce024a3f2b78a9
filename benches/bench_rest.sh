#!/usr/bin/env bash
# REST cost of pieces_user's C ABI beside libcurl (and of the Python package), for `make bench`.
# Usage: benches/bench_rest.sh [ROUNDS] [CALLS_PER_ROUND]   (defaults 15 and 300)
#        BENCH_SERVER=nginx benches/bench_rest.sh ...          (the same table against nginx)
#        BENCH_PREPARE_ONLY=1 benches/bench_rest.sh           (only build it and write the profiles)
#
# Prints one Markdown table (the one in README.md's Performance section): for a 3 KB profile, the
# maximal 30 KB fixture, and that fixture with every object's keys reversed (the fixtures are in
# alphabetical order; the Dart SDK's models, and most likely Pieces OS's, write the OpenAPI
# specification's), GET /user and POST /user/update,
#   - wall clock: the p50 of libcurl and of the C ABI, measured interleaved (each round alternates
#     the two clients call by call against the same server; BENCH_BLOCKS=1 runs each client's calls
#     of a round back to back instead), and the median of the per-round ratios with their range.
#     A single run on a shared 2-core VM swings by +-30 %, a ratio taken within one round far less;
#   - instructions per call of each client, from callgrind (benches/c/bench_rest.c --count: warm-up,
#     then N calls inside measured_calls(), collected with --toggle-collect). These are stable from
#     run to run, so they are what proves a change; wall clock only shows what it is worth.
#     Caveat: valgrind counts each byte step of `rep movsb/stosb` (glibc's memcpy/memset on large
#     buffers) as an instruction, so copies weigh more here than they cost in time;
#   - Python: the dict API, the JSON-text API (ctypes, bytes in and out), and the JSON-text call with
#     orjson around it (what the dict API should cost if the Python layer adds nothing), same server.
#
# The server: benches/c/bench_rest.c's constant responder (answers prepared once; read, find the end
# of the request, one write), in the benchmark's process with its threads pinned to the last CPU and
# the clients to the first, so client and server run on separate cores as with nginx. Kept instead
# of nginx because callgrind puts it at 1.5k (GET) to 2.5k (30 KB update) instructions per request,
# under 3 % of libcurl's own client work, and identical for both clients; nginx would add a package,
# a config and a second process's scheduling noise without changing what is compared.
# BENCH_SERVER=nginx runs the same table against nginx on 127.0.0.1 (installed from Debian when
# missing; a config in a temporary directory; worker pinned to the last CPU) answering the same
# bytes, to check that claim: in the runs behind README.md it gave the same ratios within noise.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-15}
calls=${2:-300}
counted=${BENCH_COUNTED_CALLS:-100}
target=${CARGO_TARGET_DIR:-target}
out=build/bench
mkdir -p "$out"

if [ ! -e /usr/include/curl/curl.h ] && [ ! -e /usr/include/x86_64-linux-gnu/curl/curl.h ]; then
    apt-get update -qq && apt-get install -y -qq libcurl4-openssl-dev
fi
if ! command -v valgrind >/dev/null; then
    apt-get update -qq && apt-get install -y -qq valgrind
fi
cargo build --release --lib --features log-off # as the C library is built (Cargo.toml)
tools/soname-link.sh "$target/release" # the name the benchmark asks the loader for
python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1])), separators=(",", ":")), end="")' \
    ../shared/fixtures/UserProfile.max.json > "$out/profile-30k.json"
# The same with every object's keys reversed: documents written in another order than the schema's
# (alphabetical) one, as the models of Pieces OS and of the official SDKs other than Python's do.
python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]), object_pairs_hook=lambda p: dict(reversed(p))), separators=(",", ":")), end="")' \
    ../shared/fixtures/UserProfile.max.json > "$out/profile-30k-reversed.json"
lib=$(cd "$target/release" && pwd)
cc -O2 -std=gnu11 -Wall -Wextra -Werror -Iinclude benches/c/bench_rest.c -o "$out/bench_rest" \
    -L"$lib" -Wl,-rpath,"$lib" -lpieces_user -lcurl -pthread
# benches/bench_ab.sh needs only the profiles and the server.
[ -z "${BENCH_PREPARE_ONLY:-}" ] || exit 0

# Instructions per call of one client and route: the client thread's count over $counted calls.
instructions() {
    valgrind --tool=callgrind --collect-atstart=no --toggle-collect=measured_calls \
        --callgrind-out-file=/dev/null "$out/bench_rest" --count "$1" "$2" "$3" "$counted" 2>&1 |
        sed -n 's/.*Collected : \([0-9]*\).*/\1/p' | awk -v n="$counted" '{ printf "%.0f", $1 / n }'
}

python_client() {
    PYTHONPATH=bindings/python PIECES_USER_LIB="$lib/libpieces_user.so" taskset -c 0 \
        python3 benches/python/rest_rows.py "$1" "$2" "$rounds" "$calls" || echo "PYROW failed"
}

# Python rows for one profile: its own server process, the package from the source tree.
python_rows() {
    if [ -n "${BENCH_PORT:-}" ]; then
        python_client "http://127.0.0.1:$BENCH_PORT" "$1"
        return
    fi
    local fifo=$out/serve.in
    rm -f "$fifo" && mkfifo "$fifo"
    "$out/bench_rest" --serve "$1" < "$fifo" > "$out/serve.port" &
    local server=$!
    exec 3> "$fifo" # the server runs until this closes
    while [ ! -s "$out/serve.port" ]; do sleep 0.05; done
    python_client "http://127.0.0.1:$(cat "$out/serve.port")" "$1"
    exec 3>&-
    wait "$server"
    rm -f "$fifo" "$out/serve.port"
}

# nginx answering GET /user and POST /user/update with the same bodies as the in-process server. The
# static handler refuses POST with 405, which error_page turns into a 200 with the update body.
start_nginx() {
    command -v nginx >/dev/null || { apt-get update -qq && apt-get install -y -qq nginx-light; }
    local dir=$out/nginx port=18088
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    { printf '{"user":'; cat "$1"; printf '}'; } > "$dir/snapshot.json"
    cp "$1" "$dir/update.json"
    cat > "$dir/nginx.conf" <<CONF
worker_processes 1;
$([ "$(nproc)" -ge 2 ] && printf 'worker_cpu_affinity 1%0*d;' $(($(nproc) - 1)) 0)
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $dir/body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    client_body_buffer_size 64k;
    keepalive_requests 10000000;
    keepalive_timeout 600s;
    tcp_nodelay on;
    server {
        listen 127.0.0.1:$port;
        default_type application/json;
        location = /user { alias $dir/snapshot.json; }
        location = /user/update { alias $dir/update.json; error_page 405 =200 /update.json; }
        location = /update.json { internal; alias $dir/update.json; }
    }
}
CONF
    nginx -c "$dir/nginx.conf" -p "$dir" &
    nginx_pid=$!
    until curl -s -o /dev/null "http://127.0.0.1:$port/user"; do
        kill -0 "$nginx_pid" || { echo "nginx did not start (port $port taken?)" >&2; exit 1; }
        sleep 0.1
    done
    export BENCH_PORT=$port
}

stop_nginx() {
    kill "$nginx_pid" && wait "$nginx_pid" || true
    unset BENCH_PORT
}

table=$out/table.md
{
    echo "| size | route | libcurl p50 | C ABI p50 | C ABI ÷ libcurl, median of $rounds rounds (range) | instructions/call libcurl | instructions/call C ABI | Python dict API p50 | Python JSON-text API p50 | Python: JSON-text call + codec p50 |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
} > "$table"
for profile in benches/data/profile-3k.json "$out/profile-30k.json" "$out/profile-30k-reversed.json"; do
    if [ "${BENCH_SERVER:-}" = nginx ]; then start_nginx "$profile"; fi
    "$out/bench_rest" "$profile" "$rounds" "$calls" | tee "$out/wall.txt" | grep -v '^ROW'
    python_rows "$profile" | tee "$out/python.txt"
    size="$(stat -c %s "$profile") B"
    case $profile in *reversed*) size+=", keys reversed" ;; esac
    for route in GET update; do
        kind=$([ "$route" = GET ] && echo get || echo update)
        read -r _ _ _ curl_p50 pieces_p50 ratio lo hi < <(grep "^ROW $route " "$out/wall.txt")
        read -r _ _ py_dict py_text py_codec < <(grep "^PYROW $route " "$out/python.txt" || echo "PYROW $route - - -")
        curl_ir=$(instructions curl "$kind" "$profile")
        pieces_ir=$(instructions pieces "$kind" "$profile")
        label=$([ "$route" = GET ] && echo 'GET /user' || echo 'POST /user/update')
        printf '| %s | %s | %s µs | %s µs | %s× (%s–%s) | %s | %s (%.2f×) | %s µs | %s µs | %s µs |\n' \
            "$size" "$label" "$curl_p50" "$pieces_p50" "$ratio" "$lo" "$hi" "$curl_ir" "$pieces_ir" \
            "$(echo "$pieces_ir $curl_ir" | awk '{ print $1 / $2 }')" "$py_dict" "$py_text" "$py_codec" >> "$table"
    done
    if [ "${BENCH_SERVER:-}" = nginx ]; then stop_nginx; fi
done
# Validation alone, the part of a call libcurl does not do: time (best of 30 rounds, a tight loop;
# the median of single validations after other work has gone through the caches, as in a call; and
# the median over 64 variants of the document validated in turn, which the predictors cannot learn)
# and instructions per validated document. Pinned like the clients: see benches/validate.rs.
validate_bin=$(cargo bench --bench validate --no-run --message-format=json |
    sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)
validation=""
for profile in benches/data/profile-3k.json "$out/profile-30k.json" "$out/profile-30k-reversed.json"; do
    timing=$(taskset -c 0 "$validate_bin" "$profile")
    best=$(echo "$timing" | sed -n 's/.*best \([0-9.]*\) us.*/\1/p')
    cold=$(echo "$timing" | sed -n 's/.*cold median \([0-9.]*\) us.*/\1/p')
    varied=$(echo "$timing" | sed -n 's/.*varied median \([0-9.]*\) us.*/\1/p')
    ir=$(VALIDATE_CALLS=$counted valgrind --tool=callgrind --collect-atstart=no \
        --toggle-collect='*validate_many*' --callgrind-out-file=/dev/null "$validate_bin" "$profile" 2>&1 |
        sed -n 's/.*Collected : \([0-9]*\).*/\1/p' | awk -v n="$counted" '{ printf "%.0f", $1 / n }')
    label="$(stat -c %s "$profile") B"
    case $profile in *reversed*) label+=" (keys reversed)" ;; esac
    validation+="${validation:+; }$label: $best µs (cold: $cold µs, varied: $varied µs), $ir instructions"
done

echo
echo "Server: ${BENCH_SERVER:-in-process}. $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)), load average $(cut -d' ' -f1-3 /proc/loadavg):"
cat "$table"
echo
echo "Validating one document (cargo bench --bench validate; callgrind): $validation."
