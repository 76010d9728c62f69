#!/usr/bin/env bash
# Build, once, the guests' cloud image: a bootable qcow2 of Debian bookworm made from Debian's
# packages only, that behaves like the Ubuntu cloud images the labs name.
#
# - mmdebstrap (variant apt) of bookworm, bookworm-updates and bookworm-security from the host's
#   Debian mirror, with Debian's standard kernel (the cloud kernel has no SATA/AHCI driver, and
#   the labs attach their seed ISOs on SATA) minus the drivers of hardware no VM has, systemd,
#   cloud-init (datasources NoCloud and ConfigDrive; network-config v1/v2 rendered for
#   systemd-networkd), openssh-server (ed25519 and ecdsa host keys made on first boot), sudo,
#   python3, gpg, curl;
# - one MBR partition, ext4 labelled cloudimg-rootfs, booted by extlinux (BIOS); kernel and
#   systemd on the serial console (ttyS0) as well as the screen;
# - on first boot cloud-init grows the partition and the file system to the disk's size and
#   creates the default user `ubuntu` (passwordless sudo) unless the user-data names others;
#   apt's sources are written from cloud-init's `apt` settings (`primary`, `security`), as on
#   Ubuntu's images, so a lab's package mirror applies (default: deb.debian.org);
# - quick to boot under software emulation: a small initramfs (virtio, SATA and SCSI disk and
#   CD-ROM drivers only), the C.UTF-8 locale, only the datasources above, no GRUB, no e2scrub.
#
# Cached: the image is rebuilt only when this script (its recipe) changes; its file name holds
# the recipe's hash. Idempotent. Progress, size and build time go to stderr; the image's
# absolute path is the last line of stdout.
#
# Usage: guest-image.sh [--path]
#   --path   print the image's path and exit, without building (it may not exist yet)
# Environment (all optional):
#   CLOUDLABS_GUEST_IMAGE_DIR  where images are kept (/var/lib/cloudlabs/guest-image)
#   CLOUDLABS_DEBIAN_MIRROR    Debian mirror URL (default: from the host's apt sources)
#   CLOUDLABS_REBUILD=1        rebuild even when the image exists
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SELF="${SCRIPT_DIR}/$(basename "${BASH_SOURCE[0]}")"
LOG_TAG=guest-image
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${SCRIPT_DIR}/lib.sh"

SUITE=bookworm
IMAGE_DIR="${CLOUDLABS_GUEST_IMAGE_DIR:-/var/lib/cloudlabs/guest-image}"
DISK_MIB=2048
ROOT_LABEL=cloudimg-rootfs
KEEP_IMAGES=3
LOCK_FILE=/run/lock/cloudlabs-guest-image.lock
PACKAGES=(
    linux-image-amd64 initramfs-tools zstd systemd-sysv udev dbus kmod iproute2 netbase
    systemd-resolved openssh-server openssh-sftp-server sudo python3 cloud-init
    cloud-guest-utils fdisk e2fsprogs gpg ca-certificates curl
)
# Kernel modules of hardware no VM has (sound, wireless, media, GPUs, InfiniBand, sensors...):
# never installed, here or by a kernel upgrade in the guest.
KERNEL_EXCLUDES=(
    drivers/media drivers/net/wireless drivers/gpu drivers/infiniband drivers/iio
    drivers/staging drivers/bluetooth drivers/isdn sound net/wireless net/mac80211 net/bluetooth
)
# Drivers the initramfs loads: the root disk on virtio (libvirt, OpenStack), SATA/AHCI or SCSI;
# and CD-ROMs (sr_mod), so that the seed ISO or config drive is there when cloud-init's
# generator looks for it, early in the boot.
INITRAMFS_MODULES=(virtio_pci virtio_blk virtio_scsi sd_mod sr_mod ahci ata_piix ext4)

RECIPE="$(sha256sum "${SELF}" | cut -c1-12)"
IMAGE="${IMAGE_DIR}/debian-${SUITE}-cloud-${RECIPE}.qcow2"

# --- what goes into the root file system (run by mmdebstrap as a customize hook) -----------

customize() {
    local root="$1"
    # mmdebstrap copies the host's resolv.conf and hostname: the guest gets its own.
    ln -sfn ../run/systemd/resolve/stub-resolv.conf "${root}/etc/resolv.conf"
    echo localhost >"${root}/etc/hostname"
    printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"${root}/etc/hosts"
    printf 'LABEL=%s\t/\text4\tdefaults,discard,errors=remount-ro\t0\t1\n' "${ROOT_LABEL}" \
        >"${root}/etc/fstab"
    echo 'LANG=C.UTF-8' >"${root}/etc/default/locale"
    debian_sources_list "${SUITE}" "$(debian_mirror "${SUITE}")" >"${root}/etc/apt/sources.list"

    # cloud-init: datasources, renderer, default user, keys, locale, apt sources.
    echo 'datasource_list: [ NoCloud, ConfigDrive, None ]' \
        >"${root}/etc/cloud/cloud.cfg.d/90_dpkg.cfg"
    cat >"${root}/etc/cloud/cloud.cfg.d/10_cloudlabs.cfg" <<'EOF'
# The Debian cloud image of cloud-labs: behaves like an Ubuntu cloud image.
system_info:
  default_user:
    name: ubuntu
    gecos: Ubuntu
  network:
    renderers: [networkd]
    activators: [networkd]
locale: C.UTF-8
ssh_genkeytypes: [ed25519, ecdsa]
grub_dpkg:
  enabled: false
apt:
  preserve_sources_list: false
EOF
    # apt's sources as cloud-init writes them from `apt: primary/security` (no deb-src, no
    # backports: a lab's mirror need not carry them).
    cat >"${root}/etc/cloud/templates/sources.list.debian.tmpl" <<'EOF'
## template:jinja
## Written by cloud-init on first boot from its `apt` settings (primary, security).
deb {{mirror}} {{codename}} main
deb {{mirror}} {{codename}}-updates main
deb {{security}} {{codename}}-security main
EOF

    # Networking by systemd-networkd (cloud-init writes its files), names by resolved.
    chroot "${root}" systemctl enable systemd-networkd.service systemd-resolved.service
    # A boot-time clean-up of LVM snapshots left by e2scrub: no LVM here, and it costs seconds
    # of CPU in every boot under emulation.
    chroot "${root}" systemctl mask e2scrub_reap.service
    # Host keys are made on first boot, by cloud-init; one machine id per guest. Without a
    # datasource cloud-init does not run: sshd then makes the keys it lacks itself.
    rm -f "${root}"/etc/ssh/ssh_host_*
    mkdir -p "${root}/etc/systemd/system/ssh.service.d"
    cat >"${root}/etc/systemd/system/ssh.service.d/host-keys.conf" <<'EOF'
[Service]
ExecStartPre=/bin/sh -c 'for t in ed25519 ecdsa; do f=/etc/ssh/ssh_host_$${t}_key; [ -e "$$f" ] || ssh-keygen -q -t "$$t" -N "" -f "$$f"; done'
EOF
    : >"${root}/etc/machine-id"
    rm -f "${root}/var/lib/dbus/machine-id"

    # A small initramfs: only the drivers listed above.
    sed -i 's/^MODULES=.*/MODULES=list/' "${root}/etc/initramfs-tools/initramfs.conf"
    printf '%s\n' "${INITRAMFS_MODULES[@]}" >>"${root}/etc/initramfs-tools/modules"
    chroot "${root}" update-initramfs -u -k all

    # extlinux reads its configuration from the root file system; /vmlinuz and /initrd.img
    # follow kernel upgrades in the guest. tsc=reliable: on a busy host an emulated guest's
    # clocksource watchdog sees its HPET reads delayed, marks the TSC unstable and switches to
    # the HPET, whose emulation then slows the rest of the boot several times over.
    mkdir -p "${root}/boot/extlinux"
    cat >"${root}/boot/extlinux/extlinux.conf" <<EOF
DEFAULT debian
PROMPT 0
TIMEOUT 1
LABEL debian
    LINUX /vmlinuz
    INITRD /initrd.img
    APPEND root=LABEL=${ROOT_LABEL} ro console=tty0 console=ttyS0,115200n8 tsc=reliable
EOF
    [[ -e "${root}/vmlinuz" && -e "${root}/initrd.img" ]] ||
        die "the kernel left no /vmlinuz and /initrd.img links"
    rm -rf "${root}"/var/cache/apt/*.bin "${root}"/var/log/*.log
}

if [[ "${1:-}" == --customize ]]; then
    customize "$2"
    exit 0
fi

# --- build ---------------------------------------------------------------------------------

WORK=""
cleanup() {
    remove_build_dir "${WORK}"
}

build_image() {
    local mirror started rootfs part disk sources=() line
    started=${SECONDS}
    apt_install mmdebstrap extlinux syslinux-common qemu-utils fdisk e2fsprogs
    local mbr=/usr/lib/syslinux/mbr/mbr.bin
    [[ -r "${mbr}" ]] || die "${mbr} missing after installing syslinux-common"
    mirror="$(debian_mirror "${SUITE}")"
    while read -r line; do
        sources+=("${line}")
    done < <(debian_sources_list "${SUITE}" "${mirror}")

    local excludes=() d
    for d in "${KERNEL_EXCLUDES[@]}"; do
        excludes+=("--dpkgopt=path-exclude=/lib/modules/*/kernel/${d}/*")
    done

    mkdir -p "${IMAGE_DIR}"
    # Under the lock, a build directory is what an interrupted build left.
    for d in "${IMAGE_DIR}"/.build.*; do
        remove_build_dir "${d}"
    done
    WORK="$(mktemp -d "${IMAGE_DIR}/.build.XXXXXX")"
    trap cleanup EXIT
    rootfs="${WORK}/rootfs"
    log "mmdebstrap ${SUITE} from ${mirror} (${#PACKAGES[@]} packages and their dependencies)"
    if ! mmdebstrap --mode=root --variant=apt --format=directory \
        --include="$(
            IFS=,
            echo "${PACKAGES[*]}"
        )" \
        --aptopt='Acquire::Languages "none"' \
        --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        --dpkgopt='path-exclude=/usr/share/info/*' \
        --dpkgopt='path-exclude=/usr/share/locale/*' \
        "${excludes[@]}" \
        --customize-hook="bash $(printf '%q' "${SELF}") --customize \"\$1\"" \
        "${SUITE}" "${rootfs}" "${sources[@]}" >"${WORK}/mmdebstrap.log" 2>&1; then
        tail -n 40 "${WORK}/mmdebstrap.log" >&2
        die "mmdebstrap failed"
    fi
    log "root file system: $(du -sm "${rootfs}" | cut -f1) MiB, $(
        chroot "${rootfs}" dpkg-query -W -f='.\n' | wc -l
    ) packages ($((SECONDS - started))s)"

    # The partition: 1 MiB from the start to the end of the disk, ext4 filled from the root
    # file system; then extlinux installed into it.
    part="${WORK}/part.img"
    truncate -s "$((DISK_MIB - 1))M" "${part}"
    mkfs.ext4 -q -L "${ROOT_LABEL}" -d "${rootfs}" "${part}"
    mkdir -p "${WORK}/mnt"
    mount -o loop "${part}" "${WORK}/mnt"
    extlinux --install "${WORK}/mnt/boot/extlinux" >/dev/null 2>&1 ||
        die "extlinux --install failed"
    umount "${WORK}/mnt"

    disk="${WORK}/disk.raw"
    truncate -s "${DISK_MIB}M" "${disk}"
    printf 'label: dos\nstart=2048, type=83, bootable\n' | sfdisk -q "${disk}"
    dd if="${mbr}" of="${disk}" bs=440 count=1 conv=notrunc status=none
    dd if="${part}" of="${disk}" bs=1M seek=1 conv=notrunc,sparse status=none
    rm -f "${part}"

    log "converting to a compressed qcow2"
    qemu-img convert -c -O qcow2 "${disk}" "${WORK}/image.qcow2"
    mv "${WORK}/image.qcow2" "${IMAGE}"
    chmod 0644 "${IMAGE}"
    cleanup
    WORK=""
    log "built ${IMAGE}: $(du -m "${IMAGE}" | cut -f1) MiB, ${DISK_MIB} MiB virtual," \
        "in $((SECONDS - started))s"
}

# Keep the KEEP_IMAGES most recently built images (other checkouts may use older recipes);
# drop the rest. An image is never touched once built: VMs may be using it as a backing file.
prune_images() {
    local old
    while read -r old; do
        [[ -n "${old}" ]] || continue
        log "removing the old image ${old}"
        rm -f "${old}"
    done < <(find "${IMAGE_DIR}" -maxdepth 1 -name "debian-${SUITE}-cloud-*.qcow2" \
        -printf '%T@ %p\n' | sort -rn | tail -n +"$((KEEP_IMAGES + 1))" | cut -d' ' -f2-)
}

main() {
    if [[ "${1:-}" == --path ]]; then
        echo "${IMAGE}"
        return 0
    fi
    local started=${SECONDS}
    require_root
    mkdir -p "$(dirname "${LOCK_FILE}")"
    exec 9>"${LOCK_FILE}"
    flock -w 1800 9 || die "timed out waiting for ${LOCK_FILE}"
    if [[ "${CLOUDLABS_REBUILD:-0}" != 1 && -s "${IMAGE}" ]]; then
        log "${IMAGE} already built (recipe ${RECIPE})"
    else
        build_image
    fi
    qemu-img check -q "${IMAGE}" >/dev/null || die "${IMAGE} fails qemu-img check"
    prune_images
    log "image: $(du -m "${IMAGE}" | cut -f1) MiB on disk; ready in $((SECONDS - started))s"
    echo "${IMAGE}"
}

main "$@"
