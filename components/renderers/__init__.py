"""Platform-neutral renderers: pure functions from validated values to the text of a file.

``cloudinit`` builds every cloud-init document (user-data, meta-data, network-config) and
``yamltext`` writes every YAML file; the other modules render one kind of guest file each
(dnsmasq, nginx, NFS exports and autofs maps, systemd units, /etc/hosts, Redis). The tests
feed the results to the real tools.
"""
