#!/bin/sh
# Runs every fuzz target (or the ones named) for a bounded time each, one after another, on the
# stable toolchain. Stops at the first crash, timeout or out-of-memory input: the input is copied
# into tests/fixtures/fuzz/<target>/, where `cargo test --test fuzz_corpus` replays it.
#
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
#   SECONDS per target: the argument, else $FUZZ_SECONDS, else 20.
# Installs cargo-fuzz (and g++ for libFuzzer, as root on Debian) when missing; idempotent.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-${FUZZ_SECONDS:-20}}
[ $# -gt 0 ] && shift
# libFuzzer reads 0 as "no limit": refuse it.
case $seconds in
'' | *[!0-9]*) seconds=0 ;;
esac
if [ "$seconds" -le 0 ]; then
    echo "usage: $0 [SECONDS] [TARGET...] (SECONDS: a whole number > 0)" >&2
    exit 2
fi

if ! command -v c++ >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "== installing g++ (libFuzzer is C++)"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq g++ >/dev/null
    else
        echo "no C++ compiler: install g++ (libFuzzer is built from C++ sources)" >&2
        exit 1
    fi
fi
cargo fuzz --version >/dev/null 2>&1 || cargo install cargo-fuzz --locked

cd "$root/fuzz"
# cargo-fuzz passes `-Zsanitizer=address`; the stable compiler takes it with this.
export RUSTC_BOOTSTRAP=1
all=$(cargo fuzz list --fuzz-dir .)
targets=${*:-$all}
for t in $targets; do
    case " $(echo $all) " in
    *" $t "*) ;;
    *)
        echo "unknown target '$t'; targets: $(echo $all)" >&2
        exit 2
        ;;
    esac
    # A target added since the last seeding gets its seeds too.
    if [ -z "$(ls -A "corpus/$t" 2>/dev/null)" ]; then
        ./seed.sh
        break
    fi
done

# One build for all targets, so that the time given to each target is spent fuzzing.
# `-a`: overflow checks and debug assertions, as `cargo test` has them.
build="-O -a"
echo "== building the fuzz targets"
# shellcheck disable=SC2086
cargo fuzz build --fuzz-dir . $build

stat_of() { sed -n "s/^stat::$1: *//p" "$log" | tail -n 1; }
mkdir -p logs
echo "== fuzzing each target for ${seconds}s"
for t in $targets; do
    mkdir -p "corpus/$t"
    regressions="$root/tests/fixtures/fuzz/$t"
    # New inputs go to the first corpus folder only; the committed regressions are read-only.
    [ -d "$regressions" ] || regressions=
    log="logs/$t.log"
    # shellcheck disable=SC2086
    if ! cargo fuzz run --fuzz-dir . $build "$t" "corpus/$t" $regressions -- \
        -max_total_time="$seconds" -rss_limit_mb=512 -timeout=2 -print_final_stats=1 \
        >"$log" 2>&1; then
        artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
        tail -n 40 "$log" >&2
        if [ -z "$artifact" ] || [ ! -f "$artifact" ]; then
            echo "FAILED: $t stopped without an input to blame (build or setup problem): see fuzz/$log" >&2
            exit 1
        fi
        mkdir -p "$root/tests/fixtures/fuzz/$t"
        kept="tests/fixtures/fuzz/$t/$(basename "$artifact")"
        cp "$artifact" "$root/$kept"
        case $artifact in
        /*) shown=$artifact ;;
        *) shown=fuzz/${artifact#./} ;;
        esac
        echo "FAILED: $t failed on $shown (log: fuzz/$log)" >&2
        echo "  copied to $kept: fix the bug, check with 'cargo test --test fuzz_corpus', and commit it" >&2
        echo "  reproduce: cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir . $build $t $artifact" >&2
        exit 1
    fi
    printf '%-16s %10s executions %8s exec/s %5s new inputs, corpus %s files, peak %s MB\n' \
        "$t" "$(stat_of number_of_executed_units)" "$(stat_of average_exec_per_sec)" \
        "$(stat_of new_units_added)" "$(find "corpus/$t" -type f | wc -l)" "$(stat_of peak_rss_mb)"
done
echo "== no crash in: $(echo $targets)"
