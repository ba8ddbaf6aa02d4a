// Bundles devtools.ts with DevTools' heap snapshot loader for node (esbuild).
// DevTools' own build generates core/i18n/locales.js; a one-locale stub stands
// in for it. Node 20 lacks Promise.withResolvers, which the loader uses.
import * as esbuild from 'esbuild';

const stubLocales = {
  name: 'stub-locales',
  setup(build) {
    build.onResolve({filter: /^\.\/locales\.js$/}, () => ({path: 'locales', namespace: 'stub'}));
    build.onLoad({filter: /.*/, namespace: 'stub'}, () => ({
      contents: "export const LOCALES = ['en-US']; export const BUNDLED_LOCALES = ['en-US'];" +
          "export const DEFAULT_LOCALE = 'en-US'; export const LOCAL_FETCH_PATTERN = '';" +
          "export const REMOTE_FETCH_PATTERN = '';",
      loader: 'js',
    }));
  },
};

await esbuild.build({
  entryPoints: [new URL('./devtools.ts', import.meta.url).pathname],
  bundle: true,
  platform: 'node',
  format: 'esm',
  outfile: process.argv[2],
  logLevel: 'warning',
  banner: {
    js: 'if (!Promise.withResolvers) { Promise.withResolvers = () => { let resolve, reject;' +
        ' const promise = new Promise((a, b) => { resolve = a; reject = b; }); return {promise, resolve, reject}; }; }',
  },
  plugins: [stubLocales],
});
