#!/usr/bin/env python3
"""Runs README.md's shell blocks verbatim, so the README cannot rot.

Every fenced block is one of:
  ```sh   a block of commands: it runs;
  ```sh   whose first line is `# needs an AWS account`: listed as skipped (it deploys or calls
          a deployed function, which a test machine has no account for);
  ```text / ```json   output or data shown to the reader, not commands.
Anything else (no language, another shell, a `sh` block that neither runs nor is marked)
fails the test, as does any command that fails.

The runnable blocks run in order, in one bash session (so a `cd` or a variable carries
over), from the repository root, with `set -euo pipefail`, with target/debug first on PATH
so `picrypt` is the binary under test. The one line the README runs that is this test's own
caller, `bash tests/run.sh`, is checked to be so (tests/run.sh sets PICRYPT_RUN_SH=1) and
not run again.

Usage: python3 tests/readme.py [README.md]
"""
import os, re, signal, subprocess, sys, tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AWS_MARKER = "# needs an AWS account"
SELF = "bash tests/run.sh"


def blocks(text):
    """(line number, info string, body) of every fenced block."""
    out, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        m = re.match(r"^(\s*)```(.*)$", lines[i])
        if m:
            start, info, body = i + 1, m.group(2).strip(), []
            i += 1
            while i < len(lines) and not re.match(r"^\s*```\s*$", lines[i]):
                body.append(lines[i])
                i += 1
            if i == len(lines):
                sys.exit(f"README line {start}: a code block is never closed")
            out.append((start, info, "\n".join(body)))
        i += 1
    return out


def main():
    readme = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "README.md"
    script, ran, skipped, bad = ["set -euo pipefail"], [], [], []
    for line, info, body in blocks(readme.read_text()):
        lang = info.split()[0] if info else ""
        if lang in ("text", "json"):
            continue
        if lang != "sh":
            bad.append(f"line {line}: a ```{info or ''} block: use ```sh (run), ```sh starting with '{AWS_MARKER}' (skipped), or ```text/```json (shown only)")
            continue
        first = body.strip().splitlines()[0] if body.strip() else ""
        if first.startswith(AWS_MARKER):
            skipped.append(line)
            continue
        commands = []
        for cmd in body.splitlines():
            if cmd.split("#")[0].strip() == SELF:
                # The command running this test: only check that it is.
                commands.append('[ "${PICRYPT_RUN_SH:-}" = 1 ] || { echo "README: run this through tests/run.sh" >&2; exit 1; }')
            else:
                commands.append(cmd)
        script.append(f'echo "--- README block at line {line}" >&2')
        script.extend(commands)
        ran.append(line)
    if bad:
        print("README blocks that neither run nor are marked:\n  " + "\n  ".join(bad))
        sys.exit(1)
    if not ran:
        sys.exit("README: no runnable block found")
    env = dict(os.environ)
    env["PATH"] = f"{ROOT / 'target' / 'debug'}{os.pathsep}{env['PATH']}"
    with tempfile.NamedTemporaryFile("w", suffix=".sh", delete=False) as f:
        f.write("\n".join(script) + "\n")
        path = f.name
    # Its own session, so servers a block starts in the background (and their children,
    # such as the function cargo lambda watch runs) are stopped with it.
    p = subprocess.Popen(["bash", path], cwd=ROOT, env=env, start_new_session=True)
    try:
        p.wait()
    finally:
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        os.unlink(path)
    print(f"README: ran {len(ran)} blocks (lines {', '.join(map(str, ran))}); "
          f"skipped {len(skipped)} needing an AWS account (lines {', '.join(map(str, skipped)) or 'none'})")
    if p.returncode:
        sys.exit(f"README: a block failed (exit {p.returncode})")


if __name__ == "__main__":
    main()
