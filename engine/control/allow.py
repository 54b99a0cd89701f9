"""The sender allowlist (`[osc] allow`), shared by OSC, OSCQuery and the web face."""

from __future__ import annotations

import ipaddress

from engine.errors import UserError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def networks(allow: list[str], key: str = "osc.allow") -> list[Network]:
    """The allowlist's networks; UserError naming `key[i]` for an entry that is not one."""
    found = []
    for i, text in enumerate(allow):
        try:
            found.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise UserError(f"{key}[{i}]: expected a network like '192.168.1.0/24' or an address, "
                            f"found {text!r}") from None
    return found


def allowed(host: str | None, allow: list[Network]) -> bool:
    """Whether a peer address is inside the allowlist (an empty list allows every peer)."""
    if not allow:
        return True
    try:
        ip = ipaddress.ip_address((host or "").split("%")[0])
    except ValueError:
        return False
    ip = getattr(ip, "ipv4_mapped", None) or ip  # ::ffff:192.168.1.5 on a dual-stack socket
    return any(ip.version == net.version and ip in net for net in allow)
