/**
 * Imported first by main.ts, so that this runs before any other module is
 * evaluated: loading the modules must not grow V8's young generation to its
 * maximum, which it would then keep (see src/shared/heap.ts).
 */
import { holdYoungGenerationWhileLoading } from '../shared/heap.js';

holdYoungGenerationWhileLoading();
