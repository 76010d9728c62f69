"""Platform-neutral renderers: pure functions from validated values to the text of a file.

Each module renders one kind of file (netplan, dnsmasq, nginx, NFS exports and autofs maps,
systemd units, cloud-init user-data); the tests feed the results to the real tools.
"""
