#!/usr/bin/env bash
# mktrees.sh rebuilds the fake sysfs trees the numa tests load. Each tree is
# a root directory holding sys/...; symlinks are relative, as in real sysfs,
# so they resolve inside the tree. Layouts follow real machines:
#   one-node   the 2-vCPU virtio VM these tests were written on
#   two-node   a dual-socket Xeon (SMT siblings 32-63), NICs and NVMe on both sockets
#   four-node  a single-socket AMD EPYC in NPS4 mode (Netflix's 2021 box shape)
#   no-numa    a kernel without CONFIG_NUMA: no sys/devices/system/node at all
set -euo pipefail
cd "$(dirname "$0")"

w() { mkdir -p "$(dirname "$1")"; printf '%s\n' "$2" >"$1"; }
l() { mkdir -p "$(dirname "$2")"; ln -sfn "$1" "$2"; }

meminfo() { # node total_kB free_kB
	cat <<M
Node $1 MemTotal:       $2 kB
Node $1 MemFree:        $3 kB
Node $1 MemUsed:        $(($2 - $3)) kB
Node $1 Active:          1009072 kB
M
}

node() { # root id cpulist distance total free
	local d=$1/sys/devices/system/node/node$2
	w "$d/cpulist" "$3"
	w "$d/distance" "$4"
	mkdir -p "$d"
	meminfo "$2" "$5" "$6" >"$d/meminfo"
}

# nic root iface pcipath numa_node(or "") local_cpulist [virtio]
nic() {
	local r=$1 dev=$1/sys/devices/$3
	[ -n "$4" ] && w "$dev/numa_node" "$4"
	[ -n "$5" ] && w "$dev/local_cpulist" "$5"
	local netdir=$dev
	if [ -n "${6:-}" ]; then netdir=$dev/$6; mkdir -p "$netdir"; fi
	mkdir -p "$netdir/net/$2"
	l "../../../$(basename "$netdir")" "$netdir/net/$2/device"
	l "../../devices/$3${6:+/$6}/net/$2" "$r/sys/class/net/$2"
}

# disk root name maj:min devpath(relative to sys/devices, the device the block dir hangs off)
disk() {
	local r=$1 base=$1/sys/devices/$4/block/$2
	w "$base/dev" "$3"
	l "../../../$(basename "$4")" "$base/device"
	l "../../devices/$4/block/$2" "$r/sys/dev/block/$3"
	l "../devices/$4/block/$2" "$r/sys/block/$2"
	local maj=${3%%:*} min=${3##*:} part=${2}1
	[[ $2 == *[0-9] ]] && part=${2}p1
	w "$base/$part/dev" "$maj:$((min + 1))"
	w "$base/$part/partition" "1"
	l "../../devices/$4/block/$2/$part" "$r/sys/dev/block/$maj:$((min + 1))"
}

rm -rf one-node two-node four-node no-numa

# --- one-node: this VM (virtio-net and virtio-blk; numa_node -1 on the PCI parent only)
r=one-node
w $r/sys/devices/system/node/online 0
w $r/sys/devices/system/node/possible 0
w $r/sys/devices/system/cpu/online 0-1
node $r 0 0-1 10 9136340 5253640
nic $r eth0 pci0000:00/0000:00:03.0 -1 0-1 virtio2
disk $r vda 254:0 pci0000:00/0000:00:02.0/virtio1
w $r/sys/devices/pci0000:00/0000:00:02.0/numa_node -1
mkdir -p $r/sys/devices/virtual/net/lo && l ../../devices/virtual/net/lo $r/sys/class/net/lo

# --- two-node: dual-socket Xeon
r=two-node
w $r/sys/devices/system/node/online 0-1
w $r/sys/devices/system/node/possible 0-1
w $r/sys/devices/system/cpu/online 0-63
node $r 0 0-15,32-47 "10 21" 196608000 180000000
node $r 1 16-31,48-63 "21 10" 196608000 150000000
nic $r eth0 pci0000:17/0000:17:00.0 0 0-15,32-47
nic $r ens1f0 pci0000:b0/0000:b0:02.0/0000:b1:00.0 1 16-31,48-63
nic $r eth9 pci0000:00/0000:00:05.0 -1 16-31,48-63 virtio3
nic $r eth8 platform/virtio-mmio.0 "" "" virtio4
disk $r nvme0n1 259:0 pci0000:b0/0000:b0:04.0/0000:b2:00.0/nvme/nvme0
l ../../../0000:b2:00.0 $r/sys/devices/pci0000:b0/0000:b0:04.0/0000:b2:00.0/nvme/nvme0/device
w $r/sys/devices/pci0000:b0/0000:b0:04.0/0000:b2:00.0/numa_node 1
disk $r sda 8:0 pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0
w $r/sys/devices/pci0000:00/0000:00:17.0/numa_node 0
mkdir -p $r/sys/devices/virtual/net/lo && l ../../devices/virtual/net/lo $r/sys/class/net/lo

# --- four-node: AMD EPYC 7502P, NPS4, 32 cores / 64 threads
r=four-node
w $r/sys/devices/system/node/online 0-3
w $r/sys/devices/system/node/possible 0-3
w $r/sys/devices/system/cpu/online 0-63
dist=("10 12 12 12" "12 10 12 12" "12 12 10 12" "12 12 12 10")
for n in 0 1 2 3; do
	node $r $n "$((8 * n))-$((8 * n + 7)),$((32 + 8 * n))-$((32 + 8 * n + 7))" "${dist[$n]}" 65536000 60000000
done
nic $r enp129s0f0np0 pci0000:80/0000:80:01.1/0000:81:00.0 2 16-23,48-55
nic $r enp193s0f0np0 pci0000:c0/0000:c0:01.1/0000:c1:00.0 3 24-31,56-63
disk $r nvme0n1 259:0 pci0000:c0/0000:c0:03.1/0000:c3:00.0/nvme/nvme0
l ../../../0000:c3:00.0 $r/sys/devices/pci0000:c0/0000:c0:03.1/0000:c3:00.0/nvme/nvme0/device
w $r/sys/devices/pci0000:c0/0000:c0:03.1/0000:c3:00.0/numa_node 3
disk $r nvme1n1 259:2 pci0000:00/0000:00:03.1/0000:03:00.0/nvme/nvme1
l ../../../0000:03:00.0 $r/sys/devices/pci0000:00/0000:00:03.1/0000:03:00.0/nvme/nvme1/device
w $r/sys/devices/pci0000:00/0000:00:03.1/0000:03:00.0/numa_node 0

# --- no-numa: kernel without CONFIG_NUMA
r=no-numa
w $r/sys/devices/system/cpu/online 0-3

# Stacked block devices on four-node: dm-0 sits on nvme0n1 alone (node 3),
# dm-1 stripes nvme0n1 and nvme1n1 (nodes 3 and 0: no single node).
r=four-node
for dm in dm-0:253:0 dm-1:253:1; do
	name=${dm%%:*} dev=${dm#*:}
	w $r/sys/devices/virtual/block/$name/dev "$dev"
	l ../../devices/virtual/block/$name $r/sys/dev/block/$dev
	l ../devices/virtual/block/$name $r/sys/block/$name
done
l ../../../../pci0000:c0/0000:c0:03.1/0000:c3:00.0/nvme/nvme0/block/nvme0n1 $r/sys/devices/virtual/block/dm-0/slaves/nvme0n1
l ../../../../pci0000:c0/0000:c0:03.1/0000:c3:00.0/nvme/nvme0/block/nvme0n1 $r/sys/devices/virtual/block/dm-1/slaves/nvme0n1
l ../../../../pci0000:00/0000:00:03.1/0000:03:00.0/nvme/nvme1/block/nvme1n1 $r/sys/devices/virtual/block/dm-1/slaves/nvme1n1
