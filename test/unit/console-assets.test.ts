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

  it('[RULE] the script is one self-contained file: it imports no module, so the page needs nothing but /app.js', async () => {
    const script = (await consoleAssets())['/app.js']?.body.toString() ?? '';

    expect(script.length).toBeGreaterThan(1_000);
    expect(script).not.toMatch(/\bimport\s*[{*"'(]|\bimport\s+[\w$]+\s*(,|from\b)/);
  });

  it('[RULE] the page loads its own style sheet and module script, has a title and a viewport for small screens, and says when it needs JavaScript', () => {
    const page = indexPage('ab'.repeat(32));

    expect(page.type).toBe('text/html; charset=utf-8');
    expect(page.body.toString()).toMatch(/^<!doctype html><html lang="en"><head><meta charset="utf-8">/);
    for (const part of [
      '<meta name="viewport" content="width=device-width, initial-scale=1">',
      `<meta name="console-token" content="${'ab'.repeat(32)}">`,
      '<title>Webhooks console</title>',
      '<link rel="stylesheet" href="/app.css">',
      '<script type="module" src="/app.js"></script>',
      '<noscript>The console needs JavaScript.</noscript>',
    ]) {
      expect(page.body.toString()).toContain(part);
    }
  });

  it('[RULE] a console token that is not all hex never reaches the page: it could break out of the attribute', () => {
    for (const token of ['', '"><script src=//evil.example/x.js></script>ab', 'ab"><script src=//evil.example/x.js></script>', 'AB12']) {
      expect(() => indexPage(token)).toThrow('the console token must be hex');
    }
  });

  it('the pages never hand a string to the HTML parser', () => {
    const dir = fileURLToPath(new URL('../../console/app/', import.meta.url));
    const source = readdirSync(dir).filter((name) => name.endsWith('.ts')).map((name) => readFileSync(join(dir, name), 'utf8')).join('\n');

    expect(source).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|dangerouslySetInnerHTML|document\.write|\beval\(|new Function/);
  });
});
