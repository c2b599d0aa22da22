// Builds the web UI into a directory (default ../build/web) whose layout is the URL space:
//   index.html                      (not hashed; served for /, /login and /admin/*)
//   static/app.<hash>.js, .css      (content-hashed, cacheable as immutable)
//   static/flags-<hash>/<cc>.svg    (flag-icons 4x3, two-letter codes only)
//   static/install-agent.sh         (scripts/install-agent.sh, for the install command)
//   static/licenses.txt             (licences of the bundled npm packages)
// Usage: node web/build.mjs [OUTDIR]. The directory is replaced only if it is empty or was
// made by this script (marker file .lotus-web), so a wrong argument cannot wipe anything else.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const out = path.resolve(process.argv[2] || path.join(root, 'build/web'));
const MARKER = '.lotus-web';
const HASH_LEN = 10;

const hash = (buf) => createHash('sha256').update(buf).digest('hex').slice(0, HASH_LEN);

if (fs.existsSync(out)) {
  const entries = fs.readdirSync(out);
  if (entries.length && !entries.includes(MARKER)) {
    console.error(`build.mjs: ${out} exists, is not empty and was not made by this script; refusing to replace it`);
    process.exit(1);
  }
  fs.rmSync(out, { recursive: true, force: true });
}
fs.mkdirSync(path.join(out, 'static'), { recursive: true });
fs.writeFileSync(path.join(out, MARKER), 'made by web/build.mjs\n');

const sizes = [];
function emit(rel, data) {
  const p = path.join(out, rel);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, data);
  return data.length;
}

// Flags: only the two-letter country codes (what Host.CountryCode holds).
const flagSrc = path.join(here, 'node_modules/flag-icons/flags/4x3');
const flagFiles = fs.readdirSync(flagSrc).filter((f) => /^[a-z]{2}\.svg$/.test(f)).sort();
const flagHash = createHash('sha256');
const flagData = flagFiles.map((f) => {
  const d = fs.readFileSync(path.join(flagSrc, f));
  flagHash.update(f).update(d);
  return d;
});
const flagDir = `static/flags-${flagHash.digest('hex').slice(0, HASH_LEN)}`;
let flagRaw = 0, flagGz = 0;
flagFiles.forEach((f, i) => {
  flagRaw += emit(`${flagDir}/${f}`, flagData[i]);
  flagGz += gzipSync(flagData[i], { level: 9 }).length;
});
const codes = flagFiles.map((f) => f.slice(0, 2));

const common = { bundle: true, minify: true, write: false, legalComments: 'none', logLevel: 'warning' };
const js = await build({
  ...common,
  entryPoints: [path.join(here, 'src/main.js')],
  format: 'iife',
  target: ['es2020'],
  define: {
    __FLAG_BASE__: JSON.stringify(`/${flagDir}/`),
    __FLAG_CODES__: JSON.stringify(codes.join(' ')),
  },
});
const css = await build({ ...common, entryPoints: [path.join(here, 'src/style.css')] });
const jsData = Buffer.from(js.outputFiles[0].contents);
const cssData = Buffer.from(css.outputFiles[0].contents);
const jsName = `static/app.${hash(jsData)}.js`;
const cssName = `static/app.${hash(cssData)}.css`;
emit(jsName, jsData);
emit(cssName, cssData);

const html = fs.readFileSync(path.join(here, 'index.html'), 'utf8').replace('@JS@', `/${jsName}`).replace('@CSS@', `/${cssName}`);
emit('index.html', Buffer.from(html));
emit('static/install-agent.sh', fs.readFileSync(path.join(root, 'scripts/install-agent.sh')));

const lic = ['preact', 'htm', 'flag-icons', 'uplot'].map((p) => {
  const v = JSON.parse(fs.readFileSync(path.join(here, 'node_modules', p, 'package.json'), 'utf8')).version;
  return `==== ${p} ${v} ====\n` + fs.readFileSync(path.join(here, 'node_modules', p, 'LICENSE'), 'utf8').trim() + '\n';
});
emit('static/licenses.txt', Buffer.from(lic.join('\n')));

const gz = (b) => gzipSync(b, { level: 9 }).length;
const kb = (n) => (n / 1024).toFixed(1) + ' KiB';
console.log(`web: ${path.relative(root, out) || out}`);
console.log(`  ${jsName}  ${kb(jsData.length)} (gzip ${kb(gz(jsData))})`);
console.log(`  ${cssName}  ${kb(cssData.length)} (gzip ${kb(gz(cssData))})`);
console.log(`  ${flagDir}/  ${flagFiles.length} flags, ${kb(flagRaw)} (gzip ${kb(flagGz)} if each were compressed)`);
