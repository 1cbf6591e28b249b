#!/usr/bin/env node
// prepack: refuse to pack a package users could not deploy: the compiled library (`npm run
// build`) and the prebuilt bootstrap (scripts/release puts it in assets/arm64) must be there,
// and the bootstrap must be an aarch64 executable, as the library declares by default.
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const fail = (msg) => {
  console.error(`userkeeper-cdk: not packing: ${msg}`);
  process.exit(1);
};

for (const f of ['build/index.js', 'build/index.d.ts', '.jsii']) {
  if (!fs.existsSync(path.join(root, f))) fail(`${f} is missing: run \`npm run build\` first`);
}
const bootstrap = path.join(root, 'assets', 'arm64', 'bootstrap');
if (!fs.existsSync(bootstrap)) {
  fail('assets/arm64/bootstrap is missing: scripts/release builds it (cargo lambda build --release --arm64) and copies it there');
}
const head = Buffer.alloc(20);
const fd = fs.openSync(bootstrap, 'r');
fs.readSync(fd, head, 0, 20, 0);
fs.closeSync(fd);
// ELF magic, EI_CLASS 2 (64-bit), e_machine 183 (EM_AARCH64, little-endian at offset 18).
if (head.readUInt32BE(0) !== 0x7f454c46 || head[4] !== 2 || head.readUInt16LE(18) !== 183) {
  fail(`${bootstrap} is not an aarch64 ELF executable`);
}
if ((fs.statSync(bootstrap).mode & 0o111) === 0) fail(`${bootstrap} is not executable`);
