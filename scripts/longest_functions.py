#!/usr/bin/env python3
"""Lists the longest Rust functions of the workspace (issue 15's "no handler over 40 lines").

A function's length is counted from its `fn` line to its closing brace, both included, by
matching braces outside strings, chars and comments (good enough for rustfmt-formatted code).
Test code (`tests/`, `*_tests.rs`, `#[cfg(test)]` modules, `examples/`, `bench/`) is skipped.

    scripts/longest_functions.py [COUNT]      # default 10
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
FN = re.compile(r"^\s*(pub(\([^)]*\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?fn\s+(\w+)")


def strip(line, state):
    """The line with strings, chars and comments blanked; `state` carries block comments."""
    out, i = [], 0
    while i < len(line):
        if state["block"]:
            end = line.find("*/", i)
            if end < 0:
                return "".join(out)
            state["block"], i = False, end + 2
        elif line.startswith("//", i):
            break
        elif line.startswith("/*", i):
            state["block"], i = True, i + 2
        elif line[i] == '"':
            j = i + 1
            while j < len(line) and line[j] != '"':
                j += 2 if line[j] == "\\" else 1
            i = j + 1
        elif line[i] == "'" and re.match(r"'(\\.|[^\\'])'", line[i:]):
            i += len(re.match(r"'(\\.|[^\\'])'", line[i:]).group(0))
        else:
            out.append(line[i])
            i += 1
    return "".join(out)


def functions(path):
    """(length, place, name) of every non-test function with a body in `path`."""
    lines = path.read_text().splitlines()
    state, found = {"block": False}, []
    depth, test_depth = 0, None
    open_fns = []  # [name, first line, depth at `fn`, body started]
    for number, raw in enumerate(lines, 1):
        code = strip(raw, state)
        if test_depth is None and re.match(r"\s*#\[cfg\(test\)\]", raw):
            test_depth = depth
        match = FN.match(code)
        if match and test_depth is None:
            open_fns.append([match.group(6), number, depth, False])
        for ch in code:
            pending = open_fns and not open_fns[-1][3]
            if ch == ";" and pending and depth == open_fns[-1][2]:
                open_fns.pop()  # a declaration without a body
            elif ch == "{":
                if pending:
                    open_fns[-1][3] = True
                depth += 1
            elif ch == "}":
                depth -= 1
                if open_fns and open_fns[-1][3] and depth == open_fns[-1][2]:
                    name, start, _, _ = open_fns.pop()
                    found.append((number - start + 1, f"{path.relative_to(ROOT)}:{start}", name))
                if test_depth is not None and depth == test_depth:
                    test_depth = None
    return found


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    everything = []
    for path in ROOT.rglob("*.rs"):
        rel = path.relative_to(ROOT).parts
        if rel[0] in ("target", "examples", "bench") or "tests" in rel or path.name.endswith("_tests.rs"):
            continue
        everything.extend(functions(path))
    for length, where, name in sorted(everything, reverse=True)[:count]:
        print(f"{length:4}  {name:32}  {where}")


main()
