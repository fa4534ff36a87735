"""TLS listeners of the local broker: SSL, and SASL_SSL when SCRAM users exist.

The broker reads its key and certificate chain from one PEM file (``ssl.keystore.type=PEM``,
Kafka >= 2.7), so no keytool or Java keystore is needed: whoever starts the broker (a test,
with certificates from the ``cryptography`` package) passes that file. Clients verify the
broker against the CA that signed it; the certificate must name 127.0.0.1 (the advertised
host), since clients check the host name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

SCRAM_JAAS = 'org.apache.kafka.common.security.scram.ScramLoginModule required username="{user}" password="{password}";'  # noqa: E501


@dataclass
class Listeners:
    """What ``server.properties`` lists: listeners, advertised ones, protocols, extra props."""

    listeners: list[str] = field(default_factory=list)
    advertised: list[str] = field(default_factory=list)
    protocols: list[str] = field(default_factory=list)
    props: dict[str, str | int] = field(default_factory=dict)

    def add(self, name: str, port: int) -> None:
        self.listeners.append(f"{name}://127.0.0.1:{port}")
        self.advertised.append(f"{name}://127.0.0.1:{port}")
        self.protocols.append(f"{name}:{name}")

    def scram(self, listener: str, mechanism: str, user: str, password: str) -> None:
        """SCRAM on one SASL listener (``sasl_plaintext`` or ``sasl_ssl``)."""
        self.props["sasl.enabled.mechanisms"] = mechanism
        self.props[f"listener.name.{listener}.sasl.enabled.mechanisms"] = mechanism
        self.props[f"listener.name.{listener}.{mechanism.lower()}.sasl.jaas.config"] = (
            SCRAM_JAAS.format(user=user, password=password)
        )

    def tls(self, keystore_pem: Path) -> None:
        """The broker's key + certificate chain for every SSL listener; no client auth."""
        self.props["ssl.keystore.type"] = "PEM"
        self.props["ssl.keystore.location"] = str(keystore_pem)
        self.props["ssl.client.auth"] = "none"
