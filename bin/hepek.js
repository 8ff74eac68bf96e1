#!/usr/bin/env node
'use strict';
const path = require('node:path');
const fs = require('node:fs');

const cli = path.join(__dirname, '..', 'dist', 'gateway', 'cli.js');
if (!fs.existsSync(cli)) {
  process.stderr.write(
    'hepek: the gateway is not built yet; run `npm run build` (npm install does it too)\n',
  );
  process.exit(1);
}
require(cli).main(process.argv.slice(2));
