#!/bin/bash
# Guest benchmark: CPU and memory (sysbench), sequential disk write/read (fio).
# Results go to /shared/data/bench-<host>.txt when /shared is mounted, else /var/tmp.
set -euo pipefail
out=/var/tmp
if [[ -d /shared/data ]]; then out=/shared/data; fi
file="${out}/bench-$(hostname).txt"
{
    echo "== $(hostname) $(date -u +%FT%TZ)"
    sysbench cpu --threads="$(nproc)" --time=20 run
    sysbench memory --memory-total-size=4G run
    fio --name=seq --filename=/var/tmp/fio.bin --size=512M --rw=write --bs=1M --direct=1
    fio --name=seq --filename=/var/tmp/fio.bin --size=512M --rw=read --bs=1M --direct=1
    rm -f /var/tmp/fio.bin
} >"${file}" 2>&1
echo "${file}"
