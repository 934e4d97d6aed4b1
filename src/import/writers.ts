/**
 * The writers `nora import` knows, one per NORA format: one line each. A source repository whose
 * format has no writer here is listed by `assess` as not importable ("no writer for <format>").
 */
import { mavenWriter } from './maven.ts';
import { rawWriter } from './raw.ts';
import type { ImportWriter } from './types.ts';

export const IMPORT_WRITERS: readonly ImportWriter[] = [
  mavenWriter,
  rawWriter,
  // devI2: npm, pypi, helm, cargo, docker (one line each)
];
