/**
 * Loads uWebSockets.js and refuses the package's pure-JS fallback. The alias we
 * install silently switches to a slow emulation (built on `ws`) when its native
 * binary does not load; herald must never run on that.
 */
import type * as UwsTypes from 'uWebSockets.js';

export type Uws = typeof UwsTypes;

export class NativeTransportError extends Error {
  override name = 'NativeTransportError';
}

export function isNativeUws(uws: Uws): boolean {
  // Native exports are C++ functions; the fallback exports JS classes.
  return typeof uws.App === 'function' && Function.prototype.toString.call(uws.App).includes('[native code]');
}

export function loadNativeUws(): Uws {
  // The package prints its own notes when it falls back; capture them for our error.
  const { log, warn } = console;
  const notes: string[] = [];
  console.log = console.warn = (...args: unknown[]) => notes.push(args.map(String).join(' '));
  let uws: Uws;
  try {
    uws = require('uWebSockets.js') as Uws;
  } finally {
    Object.assign(console, { log, warn });
  }
  if (!isNativeUws(uws)) {
    throw new NativeTransportError(
      `the native uWebSockets.js binary did not load for node ${process.version} ` +
        `(${process.platform}-${process.arch}, ABI ${process.versions.modules}); ` +
        `refusing to run on the slow pure-JS fallback. ${notes.join(' ').replace(/\s+/g, ' ').trim()}`,
    );
  }
  return uws;
}
