#!/usr/bin/env node
/**
 * The CLI's entry. It holds V8's young generation small before anything else
 * is read (see lean-start.ts), then loads the program: with a dynamic import,
 * because every static import is read and compiled before the first module
 * body runs.
 */
import './lean-start.js';

await import('./program.js');
