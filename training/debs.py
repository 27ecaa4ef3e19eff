"""Pinned Debian packages, fetched without installing them (modern.py, dictionary.py):
`apt-get download pkg=version` into <work>/deb, the .deb's sha256 checked, unpacked with `dpkg-deb -x` into
<work>/x/<package> (through a .tmp folder renamed at the end, so a half-unpacked package is never taken for one)."""
import hashlib
import os
import subprocess
import sys


def fetch(work, package, version, deb, sha256):
    """Downloads (unless there) and unpacks one package; returns the folder it is unpacked in. Exits on a wrong sha256."""
    debs = os.path.join(work, "deb")
    os.makedirs(debs, exist_ok=True)
    path = os.path.join(debs, deb)
    if not os.path.exists(path):
        subprocess.run(["apt-get", "download", f"{package}={version}"], cwd=debs, check=True)
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    if digest != sha256:
        sys.exit(f"{path}: sha256 {digest}, expected {sha256}")
    dest = os.path.join(work, "x", package)
    if not os.path.isdir(dest):
        os.makedirs(dest + ".tmp", exist_ok=True)
        subprocess.run(["dpkg-deb", "-x", path, dest + ".tmp"], check=True)
        os.rename(dest + ".tmp", dest)
    print(f"{package} {version} ok", file=sys.stderr)
    return dest
