#!/usr/bin/env node
// The `space` command: runs the compiled CLI (`npm run build` writes dist/; `npm ci` runs it).
import { main } from "../dist/src/cli/main.js";

process.exitCode = await main(process.argv.slice(2));
