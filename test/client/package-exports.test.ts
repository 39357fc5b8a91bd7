/**
 * herald/client as a dependent project sees it: a project that depends on this
 * repository by path (node_modules/herald links to it, as npm does for a
 * directory dependency) requires and imports `herald/client` through the
 * package's `exports`, and type-checks against its declarations, with either
 * TypeScript module resolution. The build uses nothing but relative imports.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

const REPO = path.join(__dirname, '..', '..', '..');
const TSC = require.resolve('typescript/bin/tsc');

describe('herald/client package exports', () => {
  let app: string;
  const run = (args: string[]) => execFileSync(process.execPath, args, { cwd: app, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

  before(() => {
    app = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-dependent-'));
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, dependencies: { herald: `file:${REPO}` } }));
    fs.mkdirSync(path.join(app, 'node_modules'));
    fs.symlinkSync(REPO, path.join(app, 'node_modules', 'herald'), 'dir');
  });

  after(() => fs.rmSync(app, { recursive: true, force: true }));

  it('require() and import() resolve it', () => {
    assert.equal(run(['-e', "const h = require('herald/client'); console.log(typeof h.HeraldClient, h.CloseCode.DISCONNECTED, h.CommandErrorCode.FORBIDDEN)"]), 'function 4502 forbidden');
    assert.equal(run(['--input-type=module', '-e', "import { HeraldClient } from 'herald/client'; console.log(typeof HeraldClient)"]), 'function');
    assert.throws(() => run(['-e', "require('herald/src/config')"]), /ERR_PACKAGE_PATH_NOT_EXPORTED|not defined by "exports"/);
  });

  it('says what to do in Node 20 without a WebSocket', () => {
    const out = run(['-e', "const { HeraldClient } = require('herald/client'); try { new HeraldClient({ url: 'ws://x/ws' }); } catch (e) { console.log(e.message) }"]);
    assert.match(out, typeof (globalThis as { WebSocket?: unknown }).WebSocket === 'function' ? /^$/ : /pass the WebSocket option/);
  });

  for (const resolution of ['node16', 'node10'] as const) {
    it(`type-checks against the declarations (moduleResolution ${resolution})`, () => {
      const source = `import { HeraldClient, type HeraldMessage, type GapInfo } from 'herald/client';
const client = new HeraldClient({ url: 'ws://127.0.0.1/ws', token: async () => 'jwt' });
const room = client.subscribe('room', { decode: (d) => JSON.parse(String(d)) as { text: string } });
room.on('message', (m: HeraldMessage<{ text: string }>) => m.data.text.toUpperCase());
room.on('gap', (g: GapInfo) => g.reason === 'expired');
client.on('closed', ({ code }) => code >= 4500);
// @ts-expect-error: not an event of the client
client.on('nope', () => {});
export { client };
`;
      fs.writeFileSync(path.join(app, 'app.ts'), source);
      const module = resolution === 'node16' ? 'node16' : 'commonjs';
      execFileSync(process.execPath, [TSC, '--noEmit', '--strict', '--module', module, '--moduleResolution', resolution, '--lib', 'es2020', '--skipLibCheck', 'false', 'app.ts'], { cwd: app, encoding: 'utf8' });
    });
  }

  it('the build imports nothing but its own files', () => {
    for (const dir of ['cjs', 'esm']) {
      const root = path.join(REPO, 'dist', 'pkg', dir);
      const files = fs.readdirSync(root, { recursive: true }).map(String).filter((f) => f.endsWith('.js'));
      assert.ok(files.length > 5);
      for (const file of files) {
        const text = fs.readFileSync(path.join(root, file), 'utf8');
        const specifiers = [...text.matchAll(/^\s*(?:const|var|let|import|export)\b[^\n]*?(?:require\(|from\s+)["']([^"']+)["']/gm)].map((m) => m[1]);
        assert.deepEqual(specifiers.filter((s) => !s.startsWith('./') && !s.startsWith('../')), [], `${dir}/${file}`);
      }
    }
  });
});
