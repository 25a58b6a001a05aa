import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { consoleAssets, firstLoadGzipBytes, indexPage } from '../../console/assets';

describe('console assets', () => {
  it('a first load (page, script, style sheet) is at most 150 KB gzipped', async () => {
    const bytes = await firstLoadGzipBytes();

    expect(bytes).toBeGreaterThan(1_000);
    expect(bytes).toBeLessThanOrEqual(150 * 1024);
  });

  it('the page has no inline script and loads nothing from another host', async () => {
    const page = indexPage('ab'.repeat(32)).body.toString();
    const script = (await consoleAssets())['/app.js']?.body.toString() ?? '';

    expect(page).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(page).not.toMatch(/(src|href)="(https?:)?\/\//);
    expect(script).not.toMatch(/https?:\/\/(?!www\.w3\.org)[a-z]/i);
  });

  it('the pages never hand a string to the HTML parser', () => {
    const dir = fileURLToPath(new URL('../../console/app/', import.meta.url));
    const source = readdirSync(dir).filter((name) => name.endsWith('.ts')).map((name) => readFileSync(join(dir, name), 'utf8')).join('\n');

    expect(source).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|dangerouslySetInnerHTML|document\.write|\beval\(|new Function/);
  });
});
