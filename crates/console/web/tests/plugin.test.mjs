// The OpenShift console dynamic plugin build: plugin-manifest.json is valid against the SDK's own
// JSON schemas (the manifest's, and each extension against the console's supported extension
// types), every code reference names an exposed module, and every exposed module exists: in the
// sources, in plugin-entry.js and as a chunk file next to it.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { test } from 'node:test';
import Ajv from 'ajv';
import { WEB } from './harness.mjs';

const require = createRequire(import.meta.url);
const PLUGIN = path.join(WEB, 'build/plugin');
const pkg = JSON.parse(readFileSync(path.join(WEB, 'package.json'), 'utf8'));
const schemaDir = path.dirname(require.resolve('@openshift-console/dynamic-plugin-sdk-webpack/schema/plugin-manifest.json'));
const manifestSchema = JSON.parse(readFileSync(path.join(schemaDir, 'plugin-manifest.json'), 'utf8'));
const extensionsSchema = JSON.parse(readFileSync(path.join(schemaDir, 'console-extensions.json'), 'utf8'));

function manifest() {
  const file = path.join(PLUGIN, 'plugin-manifest.json');
  assert.ok(existsSync(file), `${file} is missing: run \`npm run build:plugin\` (make ui)`);
  return JSON.parse(readFileSync(file, 'utf8'));
}

/** Errors of `m` against the schemas, as text (empty when valid). */
function problems(m) {
  const ajv = new Ajv({ allErrors: true, strict: false });
  const errors = [];
  if (!ajv.validate(manifestSchema, m)) errors.push(ajv.errorsText());
  // Each extension must be one the console supports, not a free-form custom one.
  const supported = ajv.compile({ $ref: '#/definitions/SupportedExtension', definitions: extensionsSchema.definitions });
  for (const [i, ext] of (m.extensions ?? []).entries()) {
    if (!supported(ext)) errors.push(`extension ${i} (${ext.type}): ${ajv.errorsText(supported.errors)}`);
  }
  return errors;
}

function codeRefs(v, out = []) {
  if (Array.isArray(v)) v.forEach((x) => codeRefs(x, out));
  else if (v && typeof v === 'object') {
    if (typeof v.$codeRef === 'string') out.push(v.$codeRef);
    Object.values(v).forEach((x) => codeRefs(x, out));
  }
  return out;
}

test('plugin-manifest.json is valid against the SDK schemas', () => {
  const m = manifest();
  assert.deepEqual(problems(m), []);
  assert.equal(m.name, 'netobserv-plugin');
  assert.equal(m.version, pkg.consolePlugin.version);
  assert.equal(m.registrationMethod, 'callback');
  for (const script of m.loadScripts) assert.ok(existsSync(path.join(PLUGIN, script)), `${script} listed but not built`);
  const types = m.extensions.map((e) => e.type);
  assert.ok(types.includes('console.page/route'));
  assert.ok(types.includes('console.navigation/href'));
  const tabs = m.extensions
    .filter((e) => e.type === 'console.tab/horizontalNav')
    .map((e) => e.properties.model.kind)
    .sort();
  assert.deepEqual(tabs, ['Deployment', 'Namespace', 'Node', 'Pod', 'Service']);
  // The check can fail: a route without its path is refused.
  const broken = structuredClone(m);
  delete broken.extensions.find((e) => e.type === 'console.page/route').properties.path;
  assert.notDeepEqual(problems(broken), []);
});

test('every code reference names an exposed module that exists', () => {
  const m = manifest();
  const exposed = pkg.consolePlugin.exposedModules;
  const entry = readFileSync(path.join(PLUGIN, 'plugin-entry.js'), 'utf8');
  assert.ok(entry.includes(`__load_plugin_entry__("${m.name}",`), 'plugin-entry.js registers through the console callback');
  const files = readdirSync(PLUGIN);
  const refs = codeRefs(m.extensions);
  assert.ok(refs.length >= 2);
  for (const ref of refs) {
    const [mod, exp] = ref.split('.');
    assert.ok(exposed[mod], `${ref}: module ${mod} is not in consolePlugin.exposedModules`);
    const src = ['.tsx', '.ts'].map((x) => path.join(WEB, `${exposed[mod]}${x}`)).find(existsSync);
    assert.ok(src, `${ref}: no source for ${exposed[mod]}`);
    if ((exp ?? 'default') === 'default') assert.match(readFileSync(src, 'utf8'), /export default /, `${src} has no default export`);
    assert.ok(entry.includes(`${mod}:()=>`), `${mod} is not exposed by plugin-entry.js`);
    assert.ok(
      files.some((f) => f.startsWith(`exposed-${mod}-chunk-`)),
      `no chunk file for ${mod}`,
    );
  }
});
