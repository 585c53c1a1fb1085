// Helpers shared by the browser tests: a free port, waiting for the server,
// named steps that print PASS/FAIL lines and count them.
'use strict';
const net = require('net');

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
    s.on('error', reject);
  });
}

async function waitHealthy(url, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try { const r = await fetch(url); if (r.ok) return; } catch (e) { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('server did not become healthy: ' + url);
}

// step(prefix, results) -> async (name, fn): runs fn, prints PASS/FAIL prefix/name.
function stepper(prefix, results) {
  return async function step(name, fn) {
    try {
      await fn();
      results.passed++;
      console.log(`PASS ${prefix}/${name}`);
    } catch (e) {
      results.failed++;
      console.log(`FAIL ${prefix}/${name}\n    ${String(e && e.stack || e).split('\n').slice(0, 4).join('\n    ')}`);
    }
  };
}

function assert(cond, msg) { if (!cond) throw new Error(msg); }

module.exports = { freePort, waitHealthy, stepper, assert };
