#!/usr/bin/env python3
"""Summarise a py-spy ``--format raw`` (collapsed stacks) file: where the samples go.

    python bench/profile_summary.py /tmp/prof/get-empty.txt [--top 30] [--match pulsebox]

Prints the share of samples per thread, the top functions by self time (the leaf frame) and by
inclusive time (any frame on the stack), file:line folded to file:function.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


def frame_key(frame: str) -> str:
    match = _FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    file = match["file"]
    for marker in ("site-packages/", "src/", "lib/python3"):
        if marker in file:
            file = file.split(marker, 1)[1]
            break
    return f"{match['func']} ({file})"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("file")
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--match", help="only list functions whose key contains this")
    args = p.parse_args()

    total = 0
    threads: Counter = Counter()
    own: Counter = Counter()
    inclusive: Counter = Counter()
    for line in Path(args.file).read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        if frames and frames[0].startswith(("thread (", "process ")):
            label = frames.pop(0)
            threads[label] += n
        if frames and frames[0].startswith("thread ("):
            threads[frames.pop(0)] += n
        if not frames:
            continue
        total += n
        keys = [frame_key(f) for f in frames]
        own[keys[-1]] += n
        for key in set(keys):
            inclusive[key] += n

    def show(title: str, counter: Counter) -> None:
        print(f"\n{title}")
        shown = 0
        for key, n in counter.most_common():
            if args.match and args.match not in key:
                continue
            print(f"  {100 * n / total:5.1f}%  {key}")
            shown += 1
            if shown >= args.top:
                break

    print(f"{total} samples")
    show("threads", threads)
    show("self (leaf frame)", own)
    show("inclusive", inclusive)


if __name__ == "__main__":
    main()
