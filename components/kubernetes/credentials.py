"""The cluster's join secrets, generated once by the stack: bootstrap token and CA.

Pre-generating the CA lets every worker pin it (``--discovery-token-ca-cert-hash``) before the
master exists. Both stay the same across ``pulumi up`` runs (they live in the stack's state) and
are Pulumi secrets.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_random as random
import pulumi_tls as tls

from components.children import child_options
from components.kubernetes.pki import ca_cert_hash


@dataclass(frozen=True)
class ClusterCredentialsArgs:
    ca_common_name: str = "kubernetes"
    """Subject of the cluster CA (kubeadm's own CA uses ``kubernetes``)."""
    ca_validity_hours: int = 10 * 365 * 24
    """Lifetime of the CA certificate (kubeadm's default: ten years)."""


class ClusterCredentials(pulumi.ComponentResource):
    bootstrap_token: pulumi.Output[str]
    """``[a-z0-9]{6}.[a-z0-9]{16}``, the format kubeadm requires (secret)."""
    ca_cert_pem: pulumi.Output[str]
    """The CA certificate (public)."""
    ca_key_pem: pulumi.Output[str]
    """The CA's private key (secret)."""
    ca_cert_hash: pulumi.Output[str]
    """``sha256:<hex>`` of the CA's public key, for ``kubeadm join``."""

    def __init__(
        self,
        name: str,
        args: ClusterCredentialsArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("cloudlabs:kubernetes:ClusterCredentials", name, None, opts)
        args = args or ClusterCredentialsArgs()
        child = child_options(self, opts)
        token_parts = [
            random.RandomPassword(
                f"{name}-token-{role}",
                length=length,
                lower=True,
                upper=False,
                numeric=True,
                special=False,
                opts=child,
            )
            for role, length in (("id", 6), ("secret", 16))
        ]
        key = tls.PrivateKey(f"{name}-ca-key", algorithm="RSA", rsa_bits=2048, opts=child)
        cert = tls.SelfSignedCert(
            f"{name}-ca-cert",
            private_key_pem=key.private_key_pem,
            subject=tls.SelfSignedCertSubjectArgs(common_name=args.ca_common_name),
            is_ca_certificate=True,
            validity_period_hours=args.ca_validity_hours,
            early_renewal_hours=0,
            allowed_uses=["cert_signing", "crl_signing", "digital_signature", "key_encipherment"],
            opts=child,
        )
        self.bootstrap_token = pulumi.Output.secret(
            pulumi.Output.concat(token_parts[0].result, ".", token_parts[1].result)
        )
        self.ca_cert_pem = cert.cert_pem
        self.ca_key_pem = pulumi.Output.secret(key.private_key_pem)
        self.ca_cert_hash = key.public_key_pem.apply(ca_cert_hash)
        self.register_outputs(
            {
                "bootstrap_token": self.bootstrap_token,
                "ca_cert_pem": self.ca_cert_pem,
                "ca_key_pem": self.ca_key_pem,
                "ca_cert_hash": self.ca_cert_hash,
            }
        )
