#!/bin/sh
# Run on a lab's machine: does it reach ADDRESS? One ICMP echo, with ping when it is installed,
# else with python3 (a raw socket, as root or through passwordless sudo: minimal cloud images
# have no ping). Prints the reply's source and exits 0, or exits 1.
# Usage: reach.sh ADDRESS
set -eu
address=$1
if command -v ping >/dev/null 2>&1; then
    ping -n -c 1 -W 3 "$address" >/dev/null
    echo "echo reply from $address (ping)"
    exit 0
fi
as_root=
if [ "$(id -u)" -ne 0 ]; then
    as_root="sudo -n"
fi
# shellcheck disable=SC2086 # as_root is empty or two words
exec $as_root python3 -c '
import os, socket, struct, sys
def checksum(data):
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    total = (total >> 16) + (total & 0xFFFF)
    return ~(total + (total >> 16)) & 0xFFFF
ident, body = os.getpid() & 0xFFFF, b"cloudlabs-check!"
header = struct.pack("!BBHHH", 8, 0, 0, ident, 1)
packet = struct.pack("!BBHHH", 8, 0, checksum(header + body), ident, 1) + body
sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
sock.settimeout(3)
sock.sendto(packet, (sys.argv[1], 0))
try:
    while True:
        data, source = sock.recvfrom(2048)
        start = (data[0] & 15) * 4
        kind, _, _, got, _ = struct.unpack("!BBHHH", data[start:start + 8])
        if kind == 0 and got == ident and source[0] == sys.argv[1]:
            print("echo reply from %s (python3)" % source[0])
            break
except socket.timeout:
    sys.exit("no echo reply from %s" % sys.argv[1])
' "$address"
