#!/usr/bin/env node
// Entry point of the `cloudclaude` executable. The sources are TypeScript that Node.js runs directly
// (type stripping, Node.js >= 22.18), so there is no build step; this file only checks the version first
// so that an old Node.js fails with advice instead of a syntax error.
const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  console.error(
    `cloudclaude needs Node.js 22.18 or newer (this is ${process.version}).\n` +
      "Run ./cloudclaude from the checkout instead: it fetches Node.js 24 from the npm registry when needed.",
  );
  process.exit(1);
}
// Inside a switchboard or VM only the agent side runs: skip loading the control plane (it would add
// about half a second to every bridge attach).
if (process.argv[2] === "agent") await import("../src/agent/main.ts");
else await import("../src/cli/main.ts");
