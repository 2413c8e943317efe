"""Who is calling: the user owning the other end of a loopback connection, and whether
`[serve] allowed_users` / `allowed_hosts` let it call.

The protocol has no authentication and TCP carries no credentials (SO_PEERCRED is for Unix
sockets only), but on one host the kernel's socket table holds the caller's socket too, with the
uid that owns it: the socket whose local address is the caller's and whose remote address is
ours. It is asked by that address pair over sock_diag netlink (one hash lookup, ~0.1 ms), else
read from /proc/net/tcp and tcp6 (a scan: ~10 ms with a thousand sockets). Only an established
socket counts (a closed socket's TIME_WAIT entry says uid 0). A remote caller cannot be
identified further than by its address.
"""
import ipaddress
import os
import pwd
import socket
import struct
import sys
from dataclasses import dataclass
from typing import FrozenSet, Iterable, Optional, Tuple, Union

TABLES = ("/proc/net/tcp", "/proc/net/tcp6")
ESTABLISHED = "01"                      # as /proc writes TCP_ESTABLISHED
TCP_ESTABLISHED = 1
DEFAULT_USERS = ("ovirt", "root")       # and the user serve runs as
Address = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]


def address(host: str) -> Address:
    """An address as the socket module gives it; an IPv4-mapped IPv6 address is the IPv4 one."""
    ip = ipaddress.ip_address(host.split("%", 1)[0])
    return ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped else ip


def _table_forms(ip: Address, port: int) -> Tuple[str, ...]:
    """How the kernel writes (ip, port) in its tables: 32-bit words in host byte order, in hex;
    an IPv4 address appears in tcp6 too, as ::ffff:a.b.c.d (a dual-stack socket's)."""
    def words(packed: bytes) -> str:
        if sys.byteorder == "little":
            packed = b"".join(packed[i:i + 4][::-1] for i in range(0, len(packed), 4))
        return packed.hex().upper() + ":%04X" % port
    if isinstance(ip, ipaddress.IPv4Address):
        return words(ip.packed), words(ipaddress.IPv6Address("::ffff:%s" % ip).packed)
    return (words(ip.packed),)


def peer_uid(peer: Tuple[str, int], ours: Tuple[str, int]) -> Optional[int]:
    """The uid owning the caller's socket of the connection `peer` -> `ours`; None when the
    kernel has no such socket (a remote caller, a caller gone already)."""
    theirs, mine = (address(peer[0]), peer[1]), (address(ours[0]), ours[1])
    try:
        return _asked(theirs, mine)
    except OSError:                     # no sock_diag here (a kernel without it, a policy denying it)
        return _scanned(theirs, mine)


NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST = 1
_NLMSG = struct.Struct("=IHHII")                # length, type, flags, sequence, port id
_NO_COOKIE = 0xFFFFFFFF


def _asked(theirs: Tuple[Address, int], mine: Tuple[Address, int]) -> Optional[int]:
    """sock_diag: inet_diag_req_v2 for the one established TCP socket theirs -> mine, whose
    inet_diag_msg carries its uid (linux/inet_diag.h)."""
    family = socket.AF_INET if theirs[0].version == 4 else socket.AF_INET6
    sockid = struct.pack("!HH16s16s", theirs[1], mine[1], theirs[0].packed, mine[0].packed) + \
        struct.pack("=III", 0, _NO_COOKIE, _NO_COOKIE)
    request = struct.pack("=BBBBI", family, socket.IPPROTO_TCP, 0, 0, 1 << TCP_ESTABLISHED) + sockid
    with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG) as link:
        link.settimeout(1.0)
        link.send(_NLMSG.pack(_NLMSG.size + len(request), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST, 1, 0) + request)
        answer = link.recv(8192)
    kind = _NLMSG.unpack_from(answer)[1]
    if kind != SOCK_DIAG_BY_FAMILY:     # NLMSG_ERROR: ENOENT, no such socket
        return None
    state = answer[_NLMSG.size + 1]
    uid = struct.unpack_from("=I", answer, _NLMSG.size + 4 + 48 + 12)[0]   # after family..retrans, id, 3 counters
    return uid if state == TCP_ESTABLISHED else None


def _scanned(theirs: Tuple[Address, int], mine: Tuple[Address, int]) -> Optional[int]:
    """/proc/net/tcp{,6}: the established row theirs -> mine."""
    local, remote = set(_table_forms(*theirs)), set(_table_forms(*mine))
    for table in TABLES:
        try:
            with open(table, encoding="ascii") as handle:
                next(handle)
                for line in handle:
                    fields = line.split()
                    if len(fields) > 7 and fields[3] == ESTABLISHED and fields[1] in local and fields[2] in remote:
                        return int(fields[7])
        except (OSError, StopIteration, ValueError):
            continue
    return None


def uid_of(user: str) -> Optional[int]:
    """A user name or a numeric uid -> the uid; None for a name this host does not know."""
    if user.isdigit():
        return int(user)
    try:
        return pwd.getpwnam(user).pw_uid
    except KeyError:
        return None


def user_name(uid: int) -> str:
    try:
        return "%d (%s)" % (uid, pwd.getpwuid(uid).pw_name)
    except KeyError:
        return str(uid)


@dataclass(frozen=True)
class Callers:
    """Who may call: local users by uid, remote callers by address."""
    uids: FrozenSet[int]
    hosts: Tuple[Union[ipaddress.IPv4Network, ipaddress.IPv6Network], ...] = ()

    @classmethod
    def of(cls, users: Optional[Iterable[str]], hosts: Iterable[str] = ()) -> "Callers":
        """`users` as configured (None: the default, ovirt, root and the user serve runs as)."""
        names = DEFAULT_USERS + (str(os.getuid()),) if users is None else tuple(users)
        return cls(frozenset(uid for uid in map(uid_of, names) if uid is not None),
                   tuple(ipaddress.ip_network(host, strict=False) for host in hosts))

    def admits(self, ip: Address, uid: Optional[int]) -> bool:
        """A caller the socket tables show (a local one, whatever address it used) by its uid; an
        unidentified loopback caller never; a remote one by its address."""
        if uid is not None:
            return uid in self.uids
        return not ip.is_loopback and any(ip in network for network in self.hosts)
