#!/bin/sh
# Fills corpus/<target>/ with seeds from the project's real fixtures and configs, and the
# committed regression inputs of tests/fixtures/fuzz/.
# Targets whose first byte picks a config get each seed once per config number.
set -eu
cd "$(dirname "$0")"
root=..
add() { # add TARGET FILE [PREFIX]
    mkdir -p "corpus/$1"
    out="corpus/$1/$(basename "$2").${3:-x}"
    if [ -n "${3:-}" ]; then
        { printf "\\$(printf %03o "$3")"; cat "$2"; } > "$out"
    else
        cp "$2" "$out"
    fi
}
for f in "$root"/tests/fixtures/raw/*.json; do
    add format_json "$f"
    for i in 0 1 2 3 4 5 6 7 8 9; do add mapping_apply "$f" "$i"; done
done
for f in "$root"/tests/fixtures/raw/*.txt; do
    for i in 0 1 2 3 4 5 6 7 8 9; do add format_kv "$f" "$i"; done
    for i in 0 1 2 3 4 5; do add format_regex "$f" "$i"; done
done
for f in "$root"/tests/fixtures/raw/*.csv; do
    for i in 0 1 2 3; do add format_csv "$f" "$i"; done
done
for f in "$root"/tests/fixtures/prom/*; do add prom_text "$f"; done
for f in "$root"/packaging/config.yaml "$root"/src/config/default.yaml; do add config_load "$f"; done
mkdir -p corpus/mapping_compile corpus/web_config
for f in "$root"/collectors/*.yaml; do
    add config_load "$f"
    # The `metrics:` list of a preset is a list of rules on its own.
    sed -n '/^metrics:/,$p' "$f" | tail -n +2 > "corpus/mapping_compile/$(basename "$f")"
done
sed -n '/^pub const FIXED_RULES/,/^"#;/p' src/lib.rs | sed '1d;$d' > corpus/mapping_compile/fixed_rules.yaml
sed -n 's|^//! \{0,1\}||; /^```yaml/,/^```/p' "$root"/src/server/web_config/mod.rs | sed '1d;$d' > corpus/web_config/doc_example.yml
printf 'basic_auth_users:\n  u: $2y$10$abcdefghijklmnopqrstuuA5sL6s/Gk8z9g2qXq8hV1u9n1l4m2i\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\n' > corpus/web_config/auth.yml
# Every `path:` of the presets and of FIXED_RULES is a real JSONPath expression.
mkdir -p corpus/jsonpath
sed -n "s/^ *path: *['\"]\(.*\)['\"] *\$/\1/p" "$root"/collectors/*.yaml src/lib.rs | sort -u |
    while IFS= read -r path; do
        printf '%s' "$path" > "corpus/jsonpath/path_$(printf '%s' "$path" | cksum | cut -d' ' -f1)"
    done
# The committed regression inputs (and the only seeds of `negotiate` and `name_query`).
for dir in "$root"/tests/fixtures/fuzz/*/; do
    mkdir -p "corpus/$(basename "$dir")"
    cp "$dir"* "corpus/$(basename "$dir")/"
done
echo "seeded: $(find corpus -type f | wc -l) files"
