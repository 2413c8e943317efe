"""Users, groups and file modes as an operator reads them beside a permission problem."""
import grp
import os
import pwd
import stat


def user_name(uid: int) -> str:
    """The user's name, or the number when no passwd entry has it (containers)."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def mode_and_owner(path: str) -> str:
    """'0555 root:root': what an operator needs to see beside a permission problem."""
    try:
        info = os.stat(path)
    except OSError:
        return "missing"
    return "%04o %s:%s" % (stat.S_IMODE(info.st_mode), user_name(info.st_uid), group_name(info.st_gid))
