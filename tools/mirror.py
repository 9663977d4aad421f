#!/usr/bin/env python3
"""mirror.py CHECKOUT MIRROR: makes MIRROR a copy of CHECKOUT's files (tracked ones and
untracked ones git does not ignore) and prints MIRROR.

The test command builds and runs from this copy, kept under the cache folder, so that a fresh
clone finds its builds of the last run. cargo decides what to rebuild by modification times, and
every file of a fresh clone is new; here only the files whose content differs from the copy's are
written (and get a new time), the others keep the time they had, so cargo rebuilds exactly what
changed. Files the checkout no longer has are removed from the copy. Build outputs live only in
the copy, and nothing else writes there, so its times always describe what was built from it.
"""
import filecmp
import os
import pathlib
import shutil
import subprocess
import sys

LIST = ".mirrored-files"


def main() -> int:
    checkout, mirror = pathlib.Path(sys.argv[1]).resolve(), pathlib.Path(sys.argv[2])
    listed = subprocess.run(
        ["git", "-C", str(checkout), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        check=True, capture_output=True,
    ).stdout.decode().split("\0")
    files = sorted({name for name in listed if name and (checkout / name).is_file()})
    mirror.mkdir(parents=True, exist_ok=True)
    written = 0
    for name in files:
        source, copy = checkout / name, mirror / name
        if copy.is_file() and not copy.is_symlink() and filecmp.cmp(source, copy, shallow=False):
            if os.access(source, os.X_OK) != os.access(copy, os.X_OK):
                shutil.copymode(source, copy)
            continue
        copy.parent.mkdir(parents=True, exist_ok=True)
        if copy.is_symlink() or copy.is_dir():
            shutil.rmtree(copy) if copy.is_dir() and not copy.is_symlink() else copy.unlink()
        shutil.copy(source, copy)
        written += 1
    previous = (mirror / LIST).read_text().splitlines() if (mirror / LIST).is_file() else []
    gone = sorted(set(previous) - set(files))
    for name in gone:
        (mirror / name).unlink(missing_ok=True)
    (mirror / LIST).write_text("\n".join(files) + "\n")
    print(f"mirror: {len(files)} files, {written} written, {len(gone)} removed", file=sys.stderr)
    print(mirror)
    return 0


if __name__ == "__main__":
    sys.exit(main())
