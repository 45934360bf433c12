/**
 * `cache-warmer/reader`: typed reads of the warmed keys for TypeScript and
 * JavaScript apps. Everything an app may use is exported here by name.
 */
export { CacheReader, createReader, DEFAULT_PREFIX } from './reader.js';
export type { Cached, ReadOptions, ReaderClient, ReaderOptions } from './reader.js';
export { DEFAULT_MAX_AGE_MS } from './families.js';
export type { FamilyData, FamilyName } from './families.js';
export { ReaderError, isReaderError } from './errors.js';
// Thrown for an id that is not decimal digits, a scope or type outside the
// contract, or a malformed prefix: before anything is sent to Redis.
export { KeyError } from '../shared/errors.js';
export { LEADERBOARD_TYPES, SCOPES } from './values.js';
export type {
  DailyStats,
  GoneProject,
  Leaderboard,
  LeaderboardType,
  ProjectInfo,
  ProjectStats,
  ProjectSummary,
  ProjectsList,
  Ranking,
  Scope,
  Topic,
  Topics,
  User,
} from './values.js';
