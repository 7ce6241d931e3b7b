// Bundles the console's page (src/page) into dist/page: one script, one stylesheet, the HTML. No CDN, no network.
import { copyFile, mkdir, rename } from 'node:fs/promises'
import { build } from 'esbuild'

const out = new URL('./dist/page/', import.meta.url)
await mkdir(out, { recursive: true })
await build({
  entryPoints: {
    console: new URL('./src/page/main.ts', import.meta.url).pathname,
    // A CSS entry named like the script would overwrite its neighbour's name; renamed below.
    'console-style': new URL('./src/page/console.css', import.meta.url).pathname,
  },
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['chrome110', 'firefox110', 'safari16'],
  outdir: out.pathname,
  logLevel: 'warning',
})
await rename(new URL('console-style.css', out), new URL('console.css', out))
await copyFile(new URL('./src/page/index.html', import.meta.url), new URL('index.html', out))
