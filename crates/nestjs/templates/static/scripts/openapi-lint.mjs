// `npm run openapi:lint [url-or-file]`: Redocly's recommended rules over the app's OpenAPI
// document (default: the running app's http://localhost:3000/docs-json). Errors fail the run;
// warnings are listed.
import { createConfig, lintFromString } from '@redocly/openapi-core';
import { readFileSync } from 'node:fs';

const source = process.argv[2] ?? 'http://localhost:3000/docs-json';
const text = /^https?:\/\//.test(source) ? await (await fetch(source)).text() : readFileSync(source, 'utf8');
const config = await createConfig({ extends: ['recommended'] });
const problems = await lintFromString({ source: text, absoluteRef: 'openapi.json', config });
for (const p of problems) console.log(`${p.severity}: ${p.ruleId}: ${p.message} (${p.location?.[0]?.pointer ?? ''})`);
const errors = problems.filter((p) => p.severity === 'error').length;
console.log(`${errors} errors, ${problems.length - errors} warnings`);
process.exitCode = errors ? 1 : 0;
