"""Run every broken claim file of this folder through the loader and count the outcomes.

Each file says on its second line which key must be blamed ("# expect: [BASE FILE] KEY").
Outcomes: clean (one-line ClaimError naming the file and that key), wrong_key (one
line naming the file, but another key), unnamed (an error that does not name the
file), traceback (any other exception), accepted (loaded in both profiles).

    PYTHONPATH=<checkout> python3 tests/broken_claims/classify.py [-v]

runs it against whichever checkout PYTHONPATH names (before and after a change to the validator).
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUTCOMES = ("clean", "wrong_key", "unnamed", "traceback", "accepted")


def corpus() -> list[Path]:
    """The broken claim files (not the base files, which start with '_')."""
    return sorted(
        p
        for p in HERE.iterdir()
        if p.suffix == ".toml" and not p.name.startswith("_") or p.name == "...toml"
    )


def expectation(path: Path) -> tuple[Path, str]:
    """(file that must be named, key that must be blamed; '' for none) from the file's '# expect:'
    line."""
    for line in path.read_bytes().decode("utf-8", "replace").splitlines()[:3]:
        if line.startswith("# expect:"):
            words = line.removeprefix("# expect:").split()
            return (path.parent / words[0], words[1]) if len(words) == 2 else (path, words[0])
    return path, ""


def classify(path: Path) -> tuple[str, str]:
    """(outcome, message) of loading `path` in both profiles."""
    from harness.claims.schema import ClaimError
    from harness.loading import load_claims

    file, key = expectation(path)
    try:
        for profile in ("quick", "nightly"):
            load_claims([path], profile)
    except ClaimError as exc:
        msg = str(exc)
        if "\n" in msg or not msg.startswith(f"{file}: "):
            return "unnamed", msg
        return ("clean" if not key or msg.startswith(f"{file}: {key}: ") else "wrong_key"), msg
    except ValueError as exc:
        return "unnamed", str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    except Exception as exc:  # noqa: BLE001 - what the corpus counts
        return "traceback", f"{type(exc).__name__}: {exc}"
    return "accepted", ""


def main(argv: list[str]) -> int:
    counts: Counter[str] = Counter()
    for p in corpus():
        outcome, msg = classify(p)
        counts[outcome] += 1
        if "-v" in argv and outcome != "clean":
            print(f"{outcome:10s} {p.name}: {msg[:160]}")
    print(
        f"{sum(counts.values())} broken files: " + ", ".join(f"{counts[o]} {o}" for o in OUTCOMES)
    )
    return 0 if counts["clean"] == sum(counts.values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
