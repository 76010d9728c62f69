"""The CA public key pin that ``kubeadm join --discovery-token-ca-cert-hash`` expects."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re

_PEM_RE = re.compile(
    r"-----BEGIN PUBLIC KEY-----\s*(?P<body>[A-Za-z0-9+/=\s]+?)\s*-----END PUBLIC KEY-----"
)


def ca_cert_hash(public_key_pem: str) -> str:
    """``sha256:<hex>`` of the CA's DER-encoded SubjectPublicKeyInfo.

    ``public_key_pem`` is the CA key's public half in PKIX PEM (``BEGIN PUBLIC KEY``), as
    ``openssl x509 -pubkey`` prints it for the CA certificate. This is the value kubeadm prints
    in its join command.
    """
    match = _PEM_RE.search(public_key_pem)
    if match is None:
        raise ValueError("expected a PEM public key (-----BEGIN PUBLIC KEY-----)")
    try:
        der = base64.b64decode("".join(match["body"].split()), validate=True)
    except binascii.Error:
        raise ValueError("the PEM public key is not valid base64") from None
    return "sha256:" + hashlib.sha256(der).hexdigest()
