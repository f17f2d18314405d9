#!/bin/sh
# The layout rules of docs/architecture.md, checked on the source tree: which
# folder may include which, every source folder described in the document,
# and no source file far past the house limit of ~800 lines.
. tests/e2e/lib.sh

# folder: the project folders its files may include (besides its own)
rules='common:
backends:common
models:backends common
quality:common
vocab:models common
analysis:common quality
harness:models backends common quality vocab analysis
train:models backends common quality vocab harness
cli:harness analysis quality vocab train models backends common'

echo "$rules" | while IFS=: read -r dir allowed; do
    [ -d "$dir" ] || continue
    bad=$(grep -Hn '#include "[a-z_]*/' "$dir"/*.c "$dir"/*.h "$dir"/*.cc 2>/dev/null |
        sed -n 's/^\([^:]*:[0-9]*\):#include "\([a-z_]*\)\/.*/\1 \2/p' |
        while read -r where inc; do
            [ "$inc" = "$dir" ] && continue
            case " $allowed " in *" $inc "*) ;; *) echo "$where includes $inc/" ;; esac
        done)
    if [ -z "$bad" ]; then ok "$dir/ includes only: ${allowed:-nothing else}"
    else not_ok "$dir/ includes only: ${allowed:-nothing else}" "$bad"; fi
done

missing=""
for d in $(echo "$rules" | cut -d: -f1); do
    [ -d "$d" ] || continue
    grep -q "^### \`$d/\`" docs/architecture.md || missing="$missing $d"
done
if [ -z "$missing" ]; then ok "docs/architecture.md describes every source folder"
else not_ok "docs/architecture.md describes every source folder" "missing:$missing"; fi

long=$(wc -l common/*.[ch] backends/*.[ch] models/*.[ch] quality/*.[ch] analysis/*.[ch] harness/*.[ch] cli/*.[ch] \
    vocab/*.[ch] train/*.[ch] 2>/dev/null | awk '$2 != "total" && $1 > 900 {print $2 " has " $1 " lines"}')
if [ -z "$long" ]; then ok "no source file over 900 lines"
else not_ok "no source file over 900 lines" "$long"; fi

# results/README.md documents every column of the schema, and the key columns
cols=$(sed -n '/^#define MB_SCHEMA_COLUMNS/,/^$/p' common/mb_schema.h | grep -o 'X([a-z0-9_]*)' | sed 's/X(\(.*\))/\1/')
undoc=""
for c in $cols; do grep -Eq "^\| (\`[a-z0-9_]+\`, )*\`$c\`[ ,]" results/README.md || undoc="$undoc $c"; done
if [ -n "$cols" ] && [ -z "$undoc" ]; then ok "results/README.md documents every CSV column ($(echo $cols | wc -w))"
else not_ok "results/README.md documents every CSV column" "undocumented:$undoc"; fi
keys=$(sed -n '/^#define MB_SCHEMA_KEY_COLUMNS/,/^$/p' common/mb_schema.h | grep -o 'X([a-z0-9_]*)' | sed 's/X(\(.*\))/\1/' | tr '\n' ' ')
doc_keys=$(sed -n 's/.*configuration key columns: *//p' results/README.md | tr -d '`,.' | tr -s ' ')
if [ "$(echo $keys)" = "$(echo $doc_keys)" ]; then ok "results/README.md names the configuration key columns"
else not_ok "results/README.md names the configuration key columns" "schema: $keys; README: $doc_keys"; fi
