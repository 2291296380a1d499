"""The checkout is self-contained: no file of the tree reads or links anything outside it.

Every tracked file, and every untracked one git does not ignore, is searched for a path that leaves
the tree: a relative path that climbs out of it (``../`` beyond the root, resolved from the file's
own folder), or an absolute path into the folder that holds the checkout (unless that is the
temporary folder). Both are worked out from where the tree is at run time, so this file names no
path of this machine itself."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
THIS = Path(__file__).resolve().relative_to(ROOT).as_posix()

_RELATIVE = re.compile(rb"(?:\.\./)+[\w.-]*")  # ../x, ../../x: resolved from the file's folder


def absolute_into(parent: Path) -> re.Pattern[bytes] | None:
    """An absolute path into ``parent`` (the folder holding the checkout) that starts a word (not
    inside a URL); None when ``parent`` is the temporary folder, where a clone may sit beside
    anything and ``/tmp/...`` in the tree means a scratch file of the reader's, not a neighbour."""
    if parent == Path(tempfile.gettempdir()).resolve():
        return None
    return re.compile(rb"(?<![\w.~%:/-])" + re.escape(os.fsencode(parent)) + rb"/")


_ABSOLUTE = absolute_into(ROOT.parent)


def outside(name: str, line: bytes, absolute: re.Pattern[bytes] | None = _ABSOLUTE) -> bool:
    """Does this line of the tree's file ``name`` name a path outside the tree?"""
    if absolute is not None and absolute.search(line):
        return True
    folder = (ROOT / name).parent
    for found in _RELATIVE.finditer(line):
        target = Path(os.path.normpath(folder / os.fsdecode(found.group())))
        if not target.is_relative_to(ROOT):
            return True
    return False


def tree_files() -> list[str]:
    """``git ls-files -co --exclude-standard`` at the root. A copy of the tree without ``.git``
    (as checked in a fresh folder) is listed through an empty scratch repository, with the same
    ignore rules (the tree's ``.gitignore`` files)."""
    assert shutil.which("git"), "git is needed to list the tree's files"
    listing = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--show-toplevel"],
                             check=False, capture_output=True, text=True)
    if listing.returncode == 0 and Path(listing.stdout.strip()).resolve() == ROOT:
        out = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-co", "--exclude-standard", "-z"],
                             capture_output=True, check=True).stdout
    else:
        with tempfile.TemporaryDirectory() as scratch:
            subprocess.run(["git", "init", "-q", scratch], check=True, capture_output=True)
            out = subprocess.run(["git", f"--git-dir={scratch}/.git", f"--work-tree={ROOT}", "ls-files", "-o",
                                  "--exclude-standard", "-z"], capture_output=True, check=True, cwd=ROOT).stdout
    return sorted(name for name in out.decode().split("\0") if name)


def test_no_file_reads_or_links_outside_the_tree():
    files = [name for name in tree_files() if name != THIS]
    assert len(files) > 50 and "README.md" in files, files  # the listing really saw the tree
    hits = []
    for name in files:
        path = ROOT / name
        if not path.is_file():  # listed by git but deleted in the working tree
            continue
        for number, line in enumerate(path.read_bytes().splitlines(), 1):
            if outside(name, line):
                hits.append(f"{name}:{number}: {line.decode('utf-8', 'replace').strip()[:160]}")
    assert not hits, "paths outside the tree:\n" + "\n".join(hits)


def test_the_check_finds_what_it_must_and_nothing_else():
    beside = "/srv/checkouts"  # as if the tree were /srv/checkouts/<name>
    absolute = absolute_into(Path(beside))
    for name, line in (("README.md", "see ../elsewhere/README.md"), ("docs/wire.md", "`../../elsewhere/spec`"),
                       ("tests/x.py", f"Path('{beside}/elsewhere/wire')"), ("README.md", f"cd {beside}/other && make")):
        assert outside(name, line.encode(), absolute), line
    for name, line in (("docs/wire.md", "see ../tests/contract/captures"), ("README.md", "tests/contract/captures"),
                       ("README.md", f"https://example.com{beside}/items"), ("tests/e2e/x.py", "../../README.md")):
        assert not outside(name, line.encode(), absolute), line
    assert absolute_into(Path(tempfile.gettempdir()).resolve()) is None
