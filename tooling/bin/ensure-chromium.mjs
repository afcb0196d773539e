#!/usr/bin/env node
// The demo's browser tests need Debian's Chromium (tfjs and playwright do not download browsers here).
// Installs it with apt-get when it is missing and we may (root); otherwise says how.
import { execSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const path = process.env.LAB_CHROMIUM ?? '/usr/bin/chromium';
if (existsSync(path)) process.exit(0);
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
if (!isRoot) {
  console.error(`ensure-chromium: ${path} is missing; install Debian's chromium (sudo apt-get install -y chromium) or set LAB_CHROMIUM`);
  process.exit(1);
}
console.log('ensure-chromium: installing Debian chromium with apt-get (once)');
execSync('apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > /dev/null', {
  stdio: 'inherit',
  shell: '/bin/bash',
});
