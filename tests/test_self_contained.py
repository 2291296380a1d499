"""The checkout is self-contained: no file of the tree reads or links anything outside it.

Every tracked file, and every untracked one git does not ignore, is searched for a path that leaves
the tree: a sibling folder reached by going up (the old spec and capture folder beside the
checkout) or an absolute path into the machine's work area. The patterns are assembled from pieces,
so this file does not match them itself (and it is left out anyway)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
THIS = Path(__file__).resolve().relative_to(ROOT).as_posix()

_UP = re.escape("..") + "/" + "shared"
_WORK = "/" + "work" + "/"
OUTSIDE = re.compile(("(" + _UP + ")|(" + re.escape(_WORK[:-1]) + "/shared)|((?<![\\w.~%-])" + re.escape(_WORK) + ")")
                     .encode())


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
            if OUTSIDE.search(line):
                hits.append(f"{name}:{number}: {line.decode('utf-8', 'replace').strip()[:160]}")
    assert not hits, "paths outside the tree:\n" + "\n".join(hits)


def test_the_pattern_finds_what_it_must_and_nothing_else():
    up, work = ".." + "/shared", "/" + "work/"
    for line in (f"see {up}/wire/README.md", f"Path('{work[:-1]}/shared/wire')", f"cd {work}main && make",
                 f"`{up}/spec`"):
        assert OUTSIDE.search(line.encode()), line
    for line in ("https://example.com/work/items", "tests/contract/captures", "src/work/x", "~/work/notes",
                 "sendpulse-rules.md"):
        assert not OUTSIDE.search(line.encode()), line
