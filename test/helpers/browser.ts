/**
 * Debian Chromium driven by playwright-core (DESIGN.md §8: `npx playwright install` cannot download
 * here). A fresh profile per launch, removed on close. Without a browser the caller skips — or
 * fails when CI is set, because CI installs chromium and a silent skip there would hide a regression.
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { BrowserContext } from 'playwright-core';
import { removeDir, ROOT, tempDir } from './gateway';

export const CHROMIUM = process.env.HEPEK_CHROMIUM ?? '/usr/bin/chromium';
export const ARTIFACTS = path.join(ROOT, 'test', 'artifacts');
/** A phone: the iPhone 12–15 CSS viewport. */
export const PHONE = { width: 390, height: 844 };

/** null when the browser is there; otherwise why the browser tests cannot run. */
export function browserMissing(): string | null {
  if (existsSync(CHROMIUM)) return null;
  const why = `${CHROMIUM} not found: install Debian's chromium (apt-get install chromium) or set HEPEK_CHROMIUM`;
  if (process.env.CI) throw new Error(`CI is set, so the browser tests must run: ${why}`);
  return why;
}

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

export async function launchPhone(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  const profile = tempDir('chromium');
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
    viewport: PHONE,
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    colorScheme: 'light',
    timeout: 60_000,
  });
  return {
    context,
    async close() {
      await context.close();
      removeDir(profile);
    },
  };
}

export function artifactPath(name: string): string {
  mkdirSync(ARTIFACTS, { recursive: true });
  return path.join(ARTIFACTS, name);
}
