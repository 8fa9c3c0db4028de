/**
 * Browser-safe part of the Speech Commands data: WAV bytes parser, log-mel features, the KW12 set logic and
 * batch streamer. The Node-only modules are imported directly: `./files.js` (folder listing, which_set, WAV
 * files, openKW12) and `./cache.js` (the on-disk feature cache).
 */
export * from './wav.js';
export * from './melspec.js';
export * from './gsc.js';
