#!/bin/sh
# STYLE.md §9.4 ODR rule, checked on the objects: a per-ISA translation unit may define global
# symbols only inside its own namespace (sobre::kernels::avx2 / ::avx512). Anything else it
# defines as global or weak (an inline function or template instance of a shared header, a
# std:: template) could be picked by the linker for baseline callers and SIGILL on older CPUs.
# usage: isa_symbols_test.sh NM OBJECT...
nm_tool="$1"
shift
status=0
for obj in "$@"; do
    case "$obj" in
        */sobre_kernels_avx512.dir/*) ns='sobre::kernels::avx512::' ;;
        */sobre_kernels_avx2.dir/*) ns='sobre::kernels::avx2::' ;;
        *) echo "unknown ISA object: $obj"; status=1; continue ;;
    esac
    # Defined, externally visible symbols: upper-case types (T D B R ...), weak (W V) and unique (u).
    bad=$("$nm_tool" -C --defined-only "$obj" | awk '$2 ~ /^[A-Zu]$/ { $1 = ""; $2 = ""; sub(/^  /, ""); print }' |
          grep -v "^$ns" || true)
    if [ -n "$bad" ]; then
        echo "$obj defines symbols outside $ns:"
        echo "$bad"
        status=1
    fi
done
[ $status -eq 0 ] && echo "ISA objects define only namespaced symbols ($# objects checked)"
exit $status
